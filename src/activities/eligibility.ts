import { log } from '@temporalio/activity';
import type { Sql } from '../db/client';
import { decideEligibility, loadPurchaseFacts } from '../db/eligibility-queries';
import { claimPurchase } from '../db/purchase-status';
import { getPurchaseForEligibility } from '../db/purchases';
import { FailureType, nonRetryable } from './failures';
import { currentRunId } from './run-id';

export type EligibilityOutcome =
  | { eligible: true; credits: number; priceCents: number; currency: 'usd' }
  | { eligible: false; code: string; message: string };

export function createEligibilityActivities({ sql }: { sql: Sql }) {
  return {
    /**
     * Claims the purchase for this workflow run, then re-checks the purchase rules (docs/domain.md) on
     * the live data (the pack may have been archived or the subscription gone past due since checkout),
     * with the same pure rule as the portal. The amounts are the purchase row's snapshot taken at
     * checkout, never the pack's current price.
     *
     * The claim makes a purchase driven by exactly one run, ever: idempotent for the claiming run (a
     * retried attempt claims again); any other run gets a typed failure and must touch nothing.
     */
    async checkPurchaseEligibility(input: { purchaseId: string }): Promise<EligibilityOutcome> {
      const claim = await claimPurchase(sql, input.purchaseId, currentRunId());
      if (!claim.claimed) {
        if (!claim.current)
          throw nonRetryable(FailureType.PurchaseNotFound, `purchase ${input.purchaseId} not found`);
        const { status, workflowRunId } = claim.current;
        throw nonRetryable(
          FailureType.PurchaseClaimedElsewhere,
          `purchase ${input.purchaseId} is ${status}${workflowRunId ? `, driven by run ${workflowRunId}` : ''}; this run leaves it alone`,
        );
      }
      const purchase = await getPurchaseForEligibility(sql, input.purchaseId);
      if (!purchase)
        throw nonRetryable(FailureType.PurchaseNotFound, `purchase ${input.purchaseId} not found`);
      if (purchase.customerDeletedAt) {
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
