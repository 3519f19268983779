import { proxyActivities } from '@temporalio/workflow';
import type { AutoTopUpActivities } from '../../activities';
import { databaseActivityOptions } from '../activity-options';

/**
 * The auto top-up workflow's one activity: reads the customer's auto top-up, starts the owed top-up
 * purchase (start-once, the sweep's workflow id) and records the version mirrored. Retried like every
 * database step, so a Postgres or Temporal outage delays it, never loses it.
 */
export const autoTopUp =
  proxyActivities<Pick<AutoTopUpActivities, 'mirrorAutoTopUp'>>(databaseActivityOptions);
