import { proxyActivities } from '@temporalio/workflow';
import type { RefundActivities } from '../../activities';
import { nonRetryableFailureTypes } from '../../activities/failures';

/**
 * The refund's activity proxies. Stripe: a retry window (6 h) well under Stripe's 24 h key lifetime, as
 * for the purchase's charge, so every retry replays the first answer. Postgres: retried as long as an
 * outage could plausibly last.
 */
export const stripe = proxyActivities<Pick<RefundActivities, 'createStripeRefund' | 'readStripeRefund'>>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

export const db = proxyActivities<Pick<RefundActivities, 'settleRefund'>>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});
