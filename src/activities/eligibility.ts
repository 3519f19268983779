import { log } from '@temporalio/activity';
import type { Sql } from '../db/client';
import { decideEligibility, loadPurchaseFacts } from '../db/eligibility-queries';
import { FailureType, nonRetryable } from './failures';
import { currentRunId } from './run-id';

export type EligibilityOutcome =
  | { eligible: true; credits: number; priceCents: number; currency: 'usd' }
  | { eligible: false; code: string; message: string };

/**
 * Re-checks, when the workflow starts, the rules of DESIGN §2 on the live data (the pack may have been
 * archived or the subscription gone past due since checkout), with the same pure rule as the portal.
 * The amounts are the purchase row's snapshot taken at checkout, never the pack's current price.
 */
/**
 * Claims the purchase for this workflow run: only a pending purchase that no other run claimed.
 * Idempotent for the claiming run (a retried attempt claims again); any other run gets a typed
 * failure and must touch nothing, so a purchase is driven by exactly one run, ever.
 */
async function claimPurchase(sql: Sql, purchaseId: string, runId: string): Promise<void> {
  const claimed = await sql`
    update purchases set workflow_run_id = ${runId}
     where id = ${purchaseId}
       and (workflow_run_id = ${runId} or (workflow_run_id is null and status = 'pending'))
    returning id`;
  if (claimed.length > 0) return;
  const [row] = await sql<{ status: string; workflowRunId: string | null }[]>`
    select status, workflow_run_id as "workflowRunId" from purchases where id = ${purchaseId}`;
  if (!row) throw nonRetryable(FailureType.PurchaseNotFound, `purchase ${purchaseId} not found`);
  throw nonRetryable(
    FailureType.PurchaseClaimedElsewhere,
    `purchase ${purchaseId} is ${row.status}${row.workflowRunId ? `, driven by run ${row.workflowRunId}` : ''}; this run leaves it alone`,
  );
}

export function createEligibilityActivities({ sql }: { sql: Sql }) {
  return {
    async checkPurchaseEligibility(input: { purchaseId: string }): Promise<EligibilityOutcome> {
      await claimPurchase(sql, input.purchaseId, currentRunId());
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
        log.info('purchase ineligible', { purchaseId: input.purchaseId, code: 'customer_not_found' });
        return { eligible: false, code: 'customer_not_found', message: 'The customer no longer exists.' };
      }
      const verdict = decideEligibility(await loadPurchaseFacts(sql, purchase));
      if (!verdict.ok) {
        log.info('purchase ineligible', { purchaseId: input.purchaseId, code: verdict.code });
        return { eligible: false, code: verdict.code, message: verdict.message };
      }
      log.info('purchase eligible', { purchaseId: input.purchaseId, credits: purchase.credits });
      return {
        eligible: true,
        credits: purchase.credits,
        priceCents: purchase.priceCents,
        currency: purchase.currency,
      };
    },
  };
}
