import { ActivityFailure, ApplicationFailure, log, sleep } from '@temporalio/workflow';
import type { StripeRefundOutcome } from '../../activities/refunds';
import { db, stripe } from './activities';
import type { RefundInput, RefundOutcome } from './messages';

/** How many times a refund Stripe leaves pending is re-read before the workflow leaves it to the webhook. */
const MAX_PENDING_CHECKS = 50;

/**
 * One operator's refund, after the API recorded it (pending) and took back the credits it is worth:
 *
 *   Stripe refund (its own idempotency key) → [re-read while Stripe says pending] → succeeded | failed
 *
 * A refund Stripe refuses, or reports failed, gives the credits back (settleRefund). Stripe's own
 * events (refund.updated, charge.refunded) settle the same refund too, through the webhook receiver;
 * settling is idempotent, so whichever comes first wins and the other changes nothing.
 */
export async function refundWorkflow(input: RefundInput): Promise<RefundOutcome> {
  let outcome: StripeRefundOutcome;
  try {
    outcome = await stripe.createStripeRefund.executeWithOptions({ summary: 'refund in Stripe' }, [
      { refundId: input.refundId },
    ]);
  } catch (error) {
    if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) throw error;
    // Refused for good (a typed failure, or the retry window exhausted): nothing was refunded.
    const failureReason = error.cause.message.slice(0, 200);
    log.warn('refund refused by Stripe; credits given back', { refundId: input.refundId, failureReason });
    await db.settleRefund.executeWithOptions({ summary: 'record the refund failed' }, [
      { refundId: input.refundId, status: 'failed', failureReason },
    ]);
    return { refundId: input.refundId, status: 'failed', failureReason };
  }
  for (let check = 0; outcome.status === 'pending' && check < MAX_PENDING_CHECKS; check += 1) {
    await sleep(input.recheckIntervalMs);
    outcome = await stripe.readStripeRefund.executeWithOptions({ summary: 'read the pending refund' }, [
      { stripeRefundId: outcome.stripeRefundId },
    ]);
  }
  if (outcome.status === 'pending') {
    log.warn('refund still pending in Stripe; its webhook will settle it', { refundId: input.refundId });
    return { refundId: input.refundId, status: 'pending', failureReason: null };
  }
  const settled = await db.settleRefund.executeWithOptions(
    { summary: `record the refund ${outcome.status}` },
    [{ refundId: input.refundId, status: outcome.status, failureReason: outcome.failureReason }],
  );
  return { refundId: input.refundId, status: settled.status, failureReason: outcome.failureReason };
}
