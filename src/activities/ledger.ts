import { log } from '@temporalio/activity';
import { autoTopUpPausedReasonOf } from '../db/auto-top-up';
import type { Sql } from '../db/client';
import { constraintViolation } from '../db/errors';
import { GrantRefusedError, grantPurchaseCredits, RunNotOwnerError } from '../db/ledger';
import { recordPurchaseStatus, type StatusRecord } from '../db/purchase-status';
import { ForbiddenTransitionError } from '../domain/purchase-states';
import { FailureType, nonRetryable } from './failures';
import { currentRunId } from './run-id';

export type { StatusRecord } from '../db/purchase-status';

/**
 * Postgres writes of a purchase: the `purchases` row is the business record, updated at every
 * transition; the credit grant is one transaction that the database makes idempotent.
 */
export function createLedgerActivities({ sql }: { sql: Sql }) {
  return {
    /**
     * Mirrors the workflow's state into the row. Idempotent (a retry writes the same values); a move
     * the transition table forbids, or one the database refuses (a settled purchase), fails for good
     * instead of retrying for hours. Answers, for an auto top-up, why the customer's auto top-up is
     * paused after this write (the database pauses it on the top-up's outcome), else null.
     */
    async recordPurchaseStatus(record: StatusRecord): Promise<{ autoTopUpPausedReason: string | null }> {
      let recorded: boolean;
      try {
        recorded = await recordPurchaseStatus(sql, record, currentRunId());
      } catch (error) {
        if (error instanceof ForbiddenTransitionError || constraintViolation(error) !== null) {
          throw nonRetryable(
            FailureType.PurchaseTransitionRefused,
            `the database refused: ${(error as Error).message}`,
          );
        }
        throw error;
      }
      if (!recorded) {
        throw nonRetryable(
          FailureType.PurchaseClaimedElsewhere,
          `purchase ${record.purchaseId} not found or driven by another run`,
        );
      }
      log.info('purchase status recorded', {
        purchaseId: record.purchaseId,
        status: record.status,
        ...(record.failure ? { failureCode: record.failure.code } : {}),
      });
      return { autoTopUpPausedReason: await autoTopUpPausedReasonOf(sql, record.purchaseId) };
    },

    /**
     * Grants the purchased credits and completes the purchase, in one transaction. A replay (retried
     * activity, replayed workflow) finds the grant already there, because the ledger has a unique index
     * on the purchase's grant, and changes nothing. A customer deleted meanwhile cannot be credited:
     * a typed non-retryable failure tells the workflow to refund.
     *
     * `recordCrediting` (sent by purchases past the workflow's `2026-11-27-status-writes-in-steps`
     * patch): the same transaction also records `crediting` and the PaymentIntent first, in place of the
     * separate status write older purchases made before calling this (src/db/ledger.ts).
     */
    async grantPurchasedCredits({
      purchaseId,
      recordCrediting,
    }: {
      purchaseId: string;
      recordCrediting?: { paymentIntentId: string | null };
    }): Promise<{ ledgerEntryId: number; replayed: boolean }> {
      try {
        const grant = await grantPurchaseCredits(
          sql,
          purchaseId,
          currentRunId(),
          recordCrediting ? { crediting: recordCrediting } : {},
        );
        log.info(grant.replayed ? 'credits already granted' : 'credits granted', { purchaseId, ...grant });
        return grant;
      } catch (error) {
        if (error instanceof GrantRefusedError)
          throw nonRetryable(FailureType.CreditingRefused, error.message);
        if (error instanceof RunNotOwnerError)
          throw nonRetryable(FailureType.PurchaseClaimedElsewhere, error.message);
        // The database refusing the grant (a constraint) will refuse it again: stop and refund.
        if (constraintViolation(error) !== null) {
          throw nonRetryable(
            FailureType.CreditingRefused,
            `the ledger refused the grant: ${(error as Error).message}`,
          );
        }
        throw error;
      }
    },
  };
}
