import { log } from '@temporalio/activity';
import type Stripe from 'stripe';
import type { Sql } from '../db/client';
import { findPurchase } from '../db/purchases';
import { findRefund, recordStripeRefundId, settleRefund } from '../db/refunds';
import { type RefundStatus, refundStatusOf } from '../domain/refunds';
import { FailureType, nonRetryable } from './failures';
import { idempotencyKeys } from './payments';
import { stripeCall } from './stripe-call';

export interface StripeRefundOutcome {
  stripeRefundId: string;
  status: RefundStatus;
  failureReason: string | null;
}

const outcomeOf = (refund: Stripe.Refund): StripeRefundOutcome => ({
  stripeRefundId: refund.id,
  status: refundStatusOf(refund.status),
  failureReason: refund.failure_reason ?? null,
});

/** The I/O of an operator's refund (src/workflows/refund): the Stripe refund, and its outcome recorded. */
export function createRefundActivities({ sql, stripe }: { sql: Sql; stripe: Stripe }) {
  return {
    /**
     * Asks Stripe to refund, once: under the refund's own idempotency key, with identical parameters on
     * every attempt, so a retry replays Stripe's first answer. The Stripe refund id is recorded at once.
     * A refund Stripe refuses (nothing left to refund on its side, say) is a typed failure.
     */
    async createStripeRefund({ refundId }: { refundId: string }): Promise<StripeRefundOutcome> {
      const refund = await findRefund(sql, refundId);
      if (!refund) throw nonRetryable(FailureType.PaymentRequestRejected, `refund ${refundId} not found`);
      const purchase = await findPurchase(sql, refund.purchase_id);
      const paymentIntentId = purchase?.stripe_payment_intent_id;
      if (!paymentIntentId) {
        throw nonRetryable(
          FailureType.PaymentRequestRejected,
          `purchase ${refund.purchase_id} has no charge`,
        );
      }
      const created = await stripeCall('refund', () =>
        stripe.refunds.create(
          {
            payment_intent: paymentIntentId,
            amount: refund.amount_cents,
            ...(refund.reason ? { reason: refund.reason } : {}),
            metadata: {
              refund_id: refund.id,
              purchase_id: refund.purchase_id,
              organization_id: refund.organization_id,
            },
          },
          { idempotencyKey: idempotencyKeys.apiRefund(refund.id) },
        ),
      );
      await recordStripeRefundId(sql, refund.id, created.id);
      log.info('refund sent to Stripe', {
        refundId,
        purchaseId: refund.purchase_id,
        stripeRefundId: created.id,
        status: created.status,
        amountCents: refund.amount_cents,
      });
      return outcomeOf(created);
    },

    /** Stripe's current word on a refund still pending. */
    async readStripeRefund({ stripeRefundId }: { stripeRefundId: string }): Promise<StripeRefundOutcome> {
      return outcomeOf(await stripeCall('retrieve refund', () => stripe.refunds.retrieve(stripeRefundId)));
    },

    /** Records the refund's outcome; a failed refund gives its credits back (src/db/refunds.ts). */
    async settleRefund(input: {
      refundId: string;
      status: 'succeeded' | 'failed';
      failureReason: string | null;
    }): Promise<{ status: RefundStatus }> {
      const settled = await sql.begin((tx) =>
        settleRefund(tx, input.refundId, { status: input.status, failureReason: input.failureReason }),
      );
      if (!settled)
        throw nonRetryable(FailureType.PaymentRequestRejected, `refund ${input.refundId} not found`);
      log.info('refund settled', { refundId: input.refundId, status: settled.status });
      return { status: settled.status };
    },
  };
}
