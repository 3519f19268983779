import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities, PaymentActivities } from '../../activities';
import { nonRetryableFailureTypes } from '../../activities/failures';
import { databaseActivityOptions, stripeActivityOptions } from '../activity-options';

/**
 * The purchase's activity proxies, one per concern, each with explicit timeouts and retry policy.
 * Typed failures (declines, authentication required, crediting refused…) are never retried; all else
 * (network, timeouts, 429, 5xx, a Postgres restart) is retried with backoff.
 */

/** Postgres reads and writes (src/workflows/activity-options.ts). */
export const db = proxyActivities<DatabaseActivities>(databaseActivityOptions);

/** Stripe calls: a retry window well under Stripe's 24 h key lifetime (src/workflows/activity-options.ts). */
export const stripe = proxyActivities<PaymentActivities>(stripeActivityOptions);

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
