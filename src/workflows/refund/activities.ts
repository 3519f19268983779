import { proxyActivities } from '@temporalio/workflow';
import type { RefundActivities } from '../../activities';
import { databaseActivityOptions, stripeActivityOptions } from '../activity-options';

/** The refund's activity proxies, typed by group, with the same policies as the purchase's steps. */
export const stripe =
  proxyActivities<Pick<RefundActivities, 'createStripeRefund' | 'readStripeRefund'>>(stripeActivityOptions);

export const db = proxyActivities<Pick<RefundActivities, 'settleRefund'>>(databaseActivityOptions);
