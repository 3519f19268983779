import type { Sql } from '../db/client';
import { decideEligibility, loadPurchaseFacts } from '../db/eligibility-queries';
import { FailureType, nonRetryable } from './failures';

export type EligibilityOutcome =
  | { eligible: true; credits: number; priceCents: number; currency: 'usd' }
  | { eligible: false; code: string; message: string };

/**
 * Re-checks, when the workflow starts, the rules of DESIGN §2 on the live data (the pack may have been
 * archived or the subscription gone past due since checkout), with the same pure rule as the portal.
 * The amounts are the purchase row's snapshot taken at checkout, never the pack's current price.
 */
export function createEligibilityActivities({ sql }: { sql: Sql }) {
  return {
    async checkPurchaseEligibility(input: { purchaseId: string }): Promise<EligibilityOutcome> {
      const [purchase] = await sql<
        {
          organizationId: string;
          customerId: string;
          creditPackId: string;
          credits: number;
          priceCents: number;
          currency: 'usd';
          deletedAt: Date | null;
        }[]
      >`
        select p.organization_id as "organizationId", p.customer_id as "customerId",
               p.credit_pack_id as "creditPackId", p.credits, p.price_cents as "priceCents", p.currency,
               c.deleted_at as "deletedAt"
          from purchases p
          join customers c on c.organization_id = p.organization_id and c.id = p.customer_id
         where p.id = ${input.purchaseId}`;
      if (!purchase)
        throw nonRetryable(FailureType.PurchaseNotFound, `purchase ${input.purchaseId} not found`);
      if (purchase.deletedAt) {
        return { eligible: false, code: 'customer_not_found', message: 'The customer no longer exists.' };
      }
      const verdict = decideEligibility(await loadPurchaseFacts(sql, purchase));
      if (!verdict.ok) return { eligible: false, code: verdict.code, message: verdict.message };
      return {
        eligible: true,
        credits: purchase.credits,
        priceCents: purchase.priceCents,
        currency: purchase.currency,
      };
    },
  };
}
