import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities, PaymentActivities } from '../../activities';
import { nonRetryableFailureTypes } from '../../activities/failures';

/**
 * The purchase's activity proxies, one per concern, each with explicit timeouts and retry policy.
 * Typed failures (declines, authentication required, crediting refused…) are never retried; all else
 * (network, timeouts, 429, 5xx, a Postgres restart) is retried with backoff.
 */

/** Postgres reads and writes: quick, retried for as long as a database outage could plausibly last. */
export const db = proxyActivities<DatabaseActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

/**
 * Stripe calls. The whole retry window (6 h) stays well under the 24 h for which Stripe remembers an
 * idempotency key, so every retry of the charge replays the first attempt's result instead of
 * charging again. The per-attempt timeout is above the SDK's own request timeout.
 */
export const stripe = proxyActivities<PaymentActivities>({
  // Above the sum of an activity's Stripe calls at the SDK's per-request timeout.
  startToCloseTimeout: '3 minutes',
  // Stripe activities heartbeat while a request is pending: a dead worker is noticed in seconds.
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

/**
 * The periodic re-reads of a waiting purchase (in case its messages were lost). Best effort and
 * read-only: bounded to a couple of minutes, and the wait simply carries on if one fails, so an
 * outage never holds up a message, a cancel or the deadline, nor fails the purchase.
 */
export const stripeRecheck = proxyActivities<
  Pick<PaymentActivities, 'adoptSetupIntentPaymentMethod' | 'getPaymentIntentStatus'>
>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

/**
 * Compensations (refund, cancel of a SetupIntent or PaymentIntent). They must eventually happen, so
 * they retry far longer (7 days, backoff capped at 10 minutes) and every failure is retryable: the
 * activities report a refused request as retryable too, since a revoked key or an outage is fixed by
 * an operator, not by giving up. A refund cannot happen twice: the activity looks for a standing
 * refund first, and Stripe never refunds beyond the captured amount.
 */
export const compensation = proxyActivities<
  Pick<PaymentActivities, 'refundPayment' | 'cancelSetupIntent' | 'cancelPaymentIntent'>
>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '7 days',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
  },
});
