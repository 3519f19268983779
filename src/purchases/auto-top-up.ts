import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { TopUpContext } from '../db/auto-top-up';
import type { PurchaseRow } from '../db/purchases';
import type { PurchaseLog } from './errors';
import { purchaseTimeouts, startPurchaseWorkflow } from './workflow-start';

/**
 * Auto top-up, seen from the callers that move a customer's credits (docs/auto-top-up.md). The
 * decision and the purchase row are made in their database transaction (src/db/auto-top-up.ts); here
 * the row's workflow is started after the commit, the ordinary purchase workflow with the purchase's
 * trigger `auto_top_up` in its input.
 */

/** What the database needs to start a top-up: the clock (real, unless a test passes one). */
export function topUpContext(now: Date = new Date()): TopUpContext {
  return { now };
}

/** How long a caller waits for Temporal to accept a top-up's start before leaving it to the sweep. */
export const TOP_UP_START_DEADLINE_MS = 3_000;

/**
 * Starts the workflow of a top-up purchase just recorded, best effort: the row is the durable trigger,
 * so when Temporal is unreachable (or `temporal` is null) the worker's sweep of unstarted purchases
 * starts it later (src/purchases/sweep.ts), and the caller's answer does not fail for it. Returns
 * whether it was started now.
 */
export async function startTopUp(
  deps: { temporal: Client | null; config: Config; log: PurchaseLog },
  topUp: PurchaseRow | null,
): Promise<boolean> {
  if (!topUp) return false;
  const { temporal, config, log } = deps;
  if (!temporal) {
    log.error({ purchaseId: topUp.id }, 'auto top-up recorded; no workflow service: the sweep starts it');
    return false;
  }
  try {
    await temporal.withDeadline(Date.now() + TOP_UP_START_DEADLINE_MS, () =>
      startPurchaseWorkflow(temporal, topUp, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        timeouts: purchaseTimeouts(config),
      }),
    );
    log.info({ purchaseId: topUp.id, customerId: topUp.customer_id }, 'auto top-up started');
    return true;
  } catch (error) {
    log.error(
      { err: error, purchaseId: topUp.id },
      'auto top-up recorded but its workflow could not be started; the sweep starts it',
    );
    return false;
  }
}
