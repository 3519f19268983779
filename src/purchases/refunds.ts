import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { requestBodyHash } from '../db/idempotency';
import {
  createRefund,
  listUnstartedRefunds,
  type Refund,
  type RefundRequest,
  type RefundRow,
  toRefund,
} from '../db/refunds';
import { startWorkflowOnce } from '../temporal/start-once';
import { type RefundInput, refundWorkflow, refundWorkflowId } from '../workflows';
import { notifyAutoTopUpOfPurchase } from './auto-top-up';
import type { PurchaseLog } from './errors';
import { workflowExists } from './workflow-start';

/** How long the API waits for the workflow service to start a refund before answering without it. */
const REFUND_START_DEADLINE_MS = 5_000;
/** At most this many refunds per sweep. */
const REFUND_SWEEP_LIMIT = 100;

/** The fingerprint of a refund request's body, stored with its Idempotency-Key. */
export function refundRequestHash(body: { amount: number | null; reason: string | null }): string {
  return requestBodyHash({ amount: body.amount, reason: body.reason });
}

/** Starts the refund's workflow, once (the id is the refund's; a second start finds the first). */
export async function startRefundWorkflow(
  client: Client,
  refund: Pick<RefundRow, 'id' | 'purchase_id'>,
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE' | 'STRIPE_RECHECK_INTERVAL_MS'>,
): Promise<void> {
  const input: RefundInput = {
    refundId: refund.id,
    purchaseId: refund.purchase_id,
    recheckIntervalMs: config.STRIPE_RECHECK_INTERVAL_MS,
  };
  await startWorkflowOnce(client, refundWorkflow, {
    workflowId: refundWorkflowId(refund.id),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
    staticSummary: `Refund ${refund.id} of purchase ${refund.purchase_id}`,
  });
}

/**
 * An operator's refund (POST /v1/purchases/{id}/refunds): recorded with its credits taken back, in one
 * transaction keyed by the Idempotency-Key (src/db/refunds.ts), then carried to Stripe by its own
 * workflow. A refund recorded whose workflow cannot be started now is still answered (pending): the
 * worker's sweep starts it; answering an error would invite a second refund under a new key.
 */
export async function refundPurchase(
  deps: { sql: Sql; temporal: Client | null; config: Config },
  request: RefundRequest,
  { log }: { log: PurchaseLog },
): Promise<{ statusCode: number; refund: Refund }> {
  const created = await createRefund(deps.sql, request);
  // The key's first answer, as it was given (the refund object at its creation).
  if (created.replayed) return { statusCode: created.statusCode, refund: created.response as Refund };
  const { refund } = created;
  log.info(
    { refundId: refund.id, purchaseId: refund.purchase_id, amountCents: refund.amount_cents },
    'refund recorded',
  );
  const temporal = deps.temporal;
  try {
    if (!temporal) throw new Error('no workflow client configured');
    await temporal.withDeadline(Date.now() + REFUND_START_DEADLINE_MS, () =>
      startRefundWorkflow(temporal, refund, deps.config),
    );
  } catch (error) {
    log.error(
      { err: error, refundId: refund.id },
      'refund recorded but its workflow could not be started; the sweep starts it',
    );
  }
  // Its credits were taken back: a top-up recorded (or a pause) is the customer's workflow's to carry out.
  await notifyAutoTopUpOfPurchase({ ...deps, log }, refund.purchase_id, 'refund');
  return { statusCode: 202, refund: toRefund(refund) };
}

/** Starts the workflows of API refunds recorded but never started (the worker's sweep). */
export async function startOrphanedRefunds(
  { sql, client, config }: { sql: Sql; client: Client; config: Config },
  { olderThanMs }: { olderThanMs: number },
): Promise<{ checked: number; started: string[] }> {
  const rows = await listUnstartedRefunds(sql, { olderThanMs, limit: REFUND_SWEEP_LIMIT });
  const started: string[] = [];
  for (const row of rows) {
    if (await workflowExists(client, refundWorkflowId(row.id))) continue;
    await startRefundWorkflow(client, row, config);
    started.push(row.id);
  }
  return { checked: rows.length, started };
}
