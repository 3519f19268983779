import type { ActivityOptions } from '@temporalio/workflow';
import { nonRetryableFailureTypes } from '../activities/failures';

/**
 * The timeouts and retry policies workflows give their activities, shared by the purchase and the
 * refund. Typed failures (declines, authentication required, crediting refused…) are never retried;
 * all else (network, timeouts, 429, 5xx, a Postgres restart) is retried with backoff. Options are not
 * part of a workflow's history: changing them needs no patch.
 */

/** Postgres reads and writes: quick, retried for as long as a database outage could plausibly last. */
export const databaseActivityOptions: ActivityOptions = {
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
};

/**
 * Stripe calls. The whole retry window (6 h) stays well under the 24 h for which Stripe remembers an
 * idempotency key, so every retry of a charge or a refund replays the first attempt's result instead
 * of acting again. The per-attempt timeout is above the sum of an activity's Stripe calls at the SDK's
 * per-request timeout; Stripe activities heartbeat while a request is pending, so a dead worker is
 * noticed in seconds.
 */
export const stripeActivityOptions: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
};
