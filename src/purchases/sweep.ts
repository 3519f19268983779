import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { topUpLiftedMonthlyLimits } from '../db/auto-top-up';
import type { Sql } from '../db/client';
import { listUnstartedPurchases } from '../db/purchases';
import { signalUnmirroredAutoTopUps } from './auto-top-up';
import { purchaseTimeouts, purchaseWorkflowExists, startPurchaseWorkflow } from './workflow-start';

/** At most this many purchases per sweep: a sweep is bounded work, the next one continues. */
export const SWEEP_LIMIT = 100;

/**
 * Starts the workflow of every purchase recorded at checkout whose workflow never started: the
 * checkout records the row first and starts the workflow second, so a crash or a Temporal outage in
 * between leaves a `pending` row with nothing running, and a client that never retries would leave it
 * there forever. Starting is idempotent (the workflow id is the purchase's; REJECT_DUPLICATE +
 * USE_EXISTING), so sweeping a purchase whose workflow runs, or ran, changes nothing. The worker runs
 * it every RECONCILE_INTERVAL_MS; operators run it with `npm run purchase -- reconcile`.
 *
 * First, auto top-ups whose monthly limit lifted (a new UTC month at `now`) and whose total is below
 * their threshold get their top-up recorded and started (src/db/auto-top-up.ts). Last, auto top-ups
 * changed (for `olderThanMs`) since their per-customer workflow mirrored them get its `changed` signal
 * again: the signal after their commit was lost (src/purchases/auto-top-up.ts).
 */
export async function startOrphanedPurchases(
  { sql, client, config }: { sql: Sql; client: Client; config: Config },
  {
    olderThanMs,
    organizationId,
    now = new Date(),
  }: { olderThanMs: number; organizationId?: string; now?: Date },
): Promise<{ checked: number; started: string[]; signaled: string[] }> {
  const options = { taskQueue: config.TEMPORAL_TASK_QUEUE, timeouts: purchaseTimeouts(config) };
  const resumed = await topUpLiftedMonthlyLimits(sql, { now, limit: SWEEP_LIMIT, organizationId });
  for (const topUp of resumed) await startPurchaseWorkflow(client, topUp, options);
  const rows = await listUnstartedPurchases(sql, {
    olderThanMs,
    limit: SWEEP_LIMIT,
    ...(organizationId ? { organizationId } : {}),
  });
  const started: string[] = resumed.map((topUp) => topUp.id);
  for (const row of rows) {
    if (await purchaseWorkflowExists(client, row.id)) continue;
    await startPurchaseWorkflow(client, row, options);
    started.push(row.id);
  }
  const signaled = await signalUnmirroredAutoTopUps(
    { sql, client, config },
    { olderThanMs, limit: SWEEP_LIMIT, organizationId },
  );
  return { checked: rows.length, started, signaled };
}
