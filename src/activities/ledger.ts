import { log } from '@temporalio/activity';
import type { Sql } from '../db/client';
import { constraintViolation } from '../db/errors';
import type { NextAction, PurchaseStatus } from '../domain/purchase-states';
import { FailureType, nonRetryable } from './failures';
import { currentRunId } from './run-id';

export interface StatusRecord {
  purchaseId: string;
  status: PurchaseStatus;
  nextAction: NextAction | null;
  failure: { code: string; message: string; declineCode?: string | null } | null;
  setupIntentId?: string | null;
  paymentIntentId?: string | null;
  refundId?: string | null;
}

/**
 * Postgres writes of a purchase: the `purchases` row is the business record, updated at every
 * transition; the credit grant is one transaction that the database makes idempotent.
 */
export function createLedgerActivities({ sql }: { sql: Sql }) {
  return {
    /**
     * Mirrors the workflow's state into the row. Idempotent (a retry writes the same values); the
     * database logs the transition and refuses to move a settled purchase.
     */
    async recordPurchaseStatus(record: StatusRecord): Promise<void> {
      const nextAction = record.nextAction ? sql.json(record.nextAction) : null;
      const runId = currentRunId();
      const rows = await refusalsAreFinal(sql`
        update purchases set
          status = ${record.status},
          next_action = ${nextAction},
          failure_code = ${record.failure?.code ?? null},
          failure_message = ${record.failure?.message ?? null},
          failure_decline_code = ${record.failure?.declineCode ?? null},
          stripe_setup_intent_id = coalesce(${record.setupIntentId ?? null}, stripe_setup_intent_id),
          stripe_payment_intent_id = coalesce(${record.paymentIntentId ?? null}, stripe_payment_intent_id),
          stripe_refund_id = coalesce(${record.refundId ?? null}, stripe_refund_id)
         where id = ${record.purchaseId}
           and (workflow_run_id is null or workflow_run_id = ${runId})
         returning id`);
      if (rows.length === 0) {
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
    },

    /**
     * Grants the purchased credits and completes the purchase, in one transaction. A replay (retried
     * activity, replayed workflow) finds the grant already there, because the ledger has a unique index
     * on the purchase's grant, and changes nothing. A customer deleted meanwhile cannot be credited:
     * a typed non-retryable failure tells the workflow to refund.
     */
    async grantPurchasedCredits({
      purchaseId,
    }: {
      purchaseId: string;
    }): Promise<{ ledgerEntryId: number; replayed: boolean }> {
      try {
        const grant = await grantInTransaction(purchaseId);
        log.info(grant.replayed ? 'credits already granted' : 'credits granted', { purchaseId, ...grant });
        return grant;
      } catch (error) {
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

  function grantInTransaction(purchaseId: string) {
    return sql.begin(async (tx) => {
      const [purchase] = await tx<
        {
          organizationId: string;
          customerId: string;
          credits: number;
          status: PurchaseStatus;
          deletedAt: Date | null;
        }[]
      >`
          select p.organization_id as "organizationId", p.customer_id as "customerId", p.credits, p.status,
                 c.deleted_at as "deletedAt"
            from purchases p
            join customers c on c.organization_id = p.organization_id and c.id = p.customer_id
           where p.id = ${purchaseId}
             for update of p, c`;
      if (!purchase) throw nonRetryable(FailureType.CreditingRefused, `purchase ${purchaseId} not found`);

      const [existing] = await tx<{ id: number }[]>`
          select id from credit_ledger where purchase_id = ${purchaseId} and kind = 'purchase_grant'`;
      if (existing) return { ledgerEntryId: Number(existing.id), replayed: true };

      if (purchase.deletedAt) {
        throw nonRetryable(FailureType.CreditingRefused, `customer ${purchase.customerId} was deleted`);
      }
      if (purchase.status !== 'crediting') {
        throw nonRetryable(
          FailureType.CreditingRefused,
          `purchase ${purchaseId} is ${purchase.status}, not crediting`,
        );
      }
      const [entry] = await tx<{ id: number }[]>`
          insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
          values (${purchase.organizationId}, ${purchase.customerId}, 'purchased', 'purchase_grant',
                  ${purchase.credits}, ${purchaseId}, ${`Credit pack purchase ${purchaseId}`})
          returning id`;
      await tx`
          update purchases set status = 'completed', next_action = null, failure_code = null,
                 failure_message = null, failure_decline_code = null
           where id = ${purchaseId}`;
      if (!entry) throw new Error('insert into credit_ledger returned no row');
      return { ledgerEntryId: Number(entry.id), replayed: false };
    });
  }
}

/** A status change the database refuses (a settled purchase) fails for good instead of retrying for hours. */
async function refusalsAreFinal<T>(query: Promise<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if (constraintViolation(error) !== null) {
      throw nonRetryable(
        FailureType.PurchaseTransitionRefused,
        `the database refused: ${(error as Error).message}`,
      );
    }
    throw error;
  }
}
