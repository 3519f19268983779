import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import type { PurchaseRow } from '../db/purchases';
import { purchaseTimeouts, startPurchaseWorkflow } from '../starter';
import { purchaseWorkflowId } from '../workflows/purchase/messages';

/** At most this many purchases per sweep: a sweep is bounded work, the next one continues. */
const SWEEP_LIMIT = 100;

/**
 * Starts the workflow of every purchase recorded at checkout whose workflow never started: the
 * checkout records the row first and starts the workflow second, so a crash or a Temporal outage in
 * between leaves a `pending` row with nothing running, and a client that never retries would leave it
 * there forever. Starting is idempotent (the workflow id is the purchase's; REJECT_DUPLICATE +
 * USE_EXISTING), so sweeping a purchase whose workflow runs, or ran, changes nothing.
 */
export async function startOrphanedPurchases(
  { sql, client, config }: { sql: Sql; client: Client; config: Config },
  { olderThanMs, organizationId }: { olderThanMs: number; organizationId?: string },
): Promise<{ checked: number; started: string[] }> {
  const rows = await sql<PurchaseRow[]>`
    select * from purchases
     where status = 'pending'
       and created_at < now() - ${`${olderThanMs} milliseconds`}::interval
       ${organizationId ? sql`and organization_id = ${organizationId}` : sql``}
     order by created_at
     limit ${SWEEP_LIMIT}`;
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

/** Whether any run (open or closed, within retention) of the purchase's workflow exists. */
export function purchaseWorkflowExists(client: Client, purchaseId: string): Promise<boolean> {
  return client.workflow
    .getHandle(purchaseWorkflowId(purchaseId))
    .describe()
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      },
    );
}
