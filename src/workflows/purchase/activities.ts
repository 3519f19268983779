import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

/**
 * Short Postgres steps run as local activities: in the worker, inside the workflow task that asks for
 * them, so the server sees one marker instead of an activity task and a workflow task of their own
 * (two round trips, five history events fewer). Only for steps that are a few quick statements,
 * idempotent for the run, and safe to run again after a worker crash before the workflow task
 * completes (a local activity's result is recorded only then): today the eligibility check and its
 * claim. Never Stripe calls (they can take seconds, heartbeat, and must not hold the workflow task),
 * and not the credit grant: it may wait on the customer's row lock, and a regular activity's
 * completion is recorded by the server even if the worker dies right after. The other status writes
 * (`awaiting_payment_method`, `requires_action`, the endings but `completed`) would qualify as well;
 * they are off the card-on-file path, so they stay regular activities until a measured need and a
 * patch of their own.
 *
 * The per-attempt timeout is short (the step is a few index lookups and one update); retries back off
 * as the database proxy's do, in the worker up to `localRetryThreshold`, then on a workflow timer, for
 * as long as a database outage could plausibly last.
 */
export const dbLocal = proxyLocalActivities<Pick<DatabaseActivities, 'checkPurchaseEligibility'>>({
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '24 hours',
  localRetryThreshold: '10 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

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
