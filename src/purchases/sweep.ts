import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { listUnstartedPurchases } from '../db/purchases';
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
 */
export async function startOrphanedPurchases(
  { sql, client, config }: { sql: Sql; client: Client; config: Config },
  { olderThanMs, organizationId }: { olderThanMs: number; organizationId?: string },
): Promise<{ checked: number; started: string[] }> {
  const rows = await listUnstartedPurchases(sql, {
    olderThanMs,
    limit: SWEEP_LIMIT,
    ...(organizationId ? { organizationId } : {}),
  });
  const started: string[] = [];
  for (const row of rows) {
    if (await purchaseWorkflowExists(client, row.id)) continue;
    await startPurchaseWorkflow(client, row, {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      timeouts: purchaseTimeouts(config),
    });
    started.push(row.id);
  }
  return { checked: rows.length, started };
}
