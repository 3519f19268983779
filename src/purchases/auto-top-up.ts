import type { Client } from '@temporalio/client';
import type { StartPurchase } from '../activities/auto-top-up';
import type { Config } from '../config';
import {
  autoTopUpUnmirrored,
  listUnmirroredAutoTopUps,
  type TopUpContext,
  unmirroredAutoTopUpOf,
} from '../db/auto-top-up';
import type { Sql } from '../db/client';
import type { PurchaseRow } from '../db/purchases';
import {
  type AutoTopUpWorkflowInput,
  autoTopUpChangedSignal,
  autoTopUpWorkflow,
  autoTopUpWorkflowId,
} from '../workflows';
import { CustomerIdKey, OrganizationIdKey } from '../workflows/purchase/search-attributes';
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

type CustomerIds = { organizationId: string; customerId: string };

/** How long a caller waits for Temporal to take the customer's `changed` signal before leaving it to the sweep. */
export const AUTO_TOP_UP_SIGNAL_DEADLINE_MS = 3_000;

/**
 * Signal-with-start of the customer's auto top-up workflow (`auto-top-up:<org>:<customer>`): starts it
 * when it is not running, then delivers `changed`; its activity re-reads Postgres, starts an owed top-up
 * and mirrors the state into search attributes. Throws when Temporal does not take it.
 */
export async function signalAutoTopUp(
  client: Client,
  config: Config,
  ids: CustomerIds,
  reason: string,
  { signalsPerRun }: { signalsPerRun?: number } = {},
): Promise<void> {
  const input: AutoTopUpWorkflowInput = { ...ids, ...(signalsPerRun ? { signalsPerRun } : {}) };
  await client.workflow.signalWithStart(autoTopUpWorkflow, {
    workflowId: autoTopUpWorkflowId(ids.organizationId, ids.customerId),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
    signal: autoTopUpChangedSignal,
    signalArgs: [reason],
    typedSearchAttributes: [
      { key: OrganizationIdKey, value: ids.organizationId },
      { key: CustomerIdKey, value: ids.customerId },
    ],
    staticSummary: `Auto top-up of customer ${ids.customerId}`,
  });
}

/**
 * After a commit that may have changed a customer's auto top-up (usage, a reversal, a PUT, a new card)
 * or recorded a top-up: tells the customer's workflow, best effort. Only a row changed since the
 * workflow last mirrored it is signaled (a customer without an auto top-up costs one read, no workflow).
 * A failure is logged, never thrown: the change is committed, and the worker's sweep signals a row
 * whose change was never mirrored (src/purchases/sweep.ts). Returns whether the signal was taken.
 */
export async function notifyAutoTopUp(
  deps: { sql: Sql; temporal: Client | null; config: Config; log: PurchaseLog },
  ids: CustomerIds | null,
  reason: string,
): Promise<boolean> {
  const { sql, temporal, config, log } = deps;
  try {
    if (!ids || !(await autoTopUpUnmirrored(sql, ids))) return false;
    if (!temporal) throw new Error('no workflow client configured');
    await temporal.withDeadline(Date.now() + AUTO_TOP_UP_SIGNAL_DEADLINE_MS, () =>
      signalAutoTopUp(temporal, config, ids, reason),
    );
    return true;
  } catch (error) {
    log.error(
      { err: error, ...ids, reason },
      'auto top-up changed but its workflow could not be signaled; the sweep signals it',
    );
    return false;
  }
}

/** notifyAutoTopUp for the customer of a purchase whose credits were taken back (refund, dispute). */
export async function notifyAutoTopUpOfPurchase(
  deps: { sql: Sql; temporal: Client | null; config: Config; log: PurchaseLog },
  purchaseId: string | null,
  reason: string,
): Promise<boolean> {
  try {
    const ids = purchaseId ? await unmirroredAutoTopUpOf(deps.sql, purchaseId) : null;
    return await notifyAutoTopUp(deps, ids, reason);
  } catch (error) {
    deps.log.error(
      { err: error, purchaseId, reason },
      'auto top-up of the purchase not signaled; the sweep does',
    );
    return false;
  }
}

/** The worker's way for the auto top-up activity to start an owed top-up (start-once, like the sweep). */
export function purchaseStarter(client: Client, config: Config): StartPurchase {
  return (purchase) =>
    startPurchaseWorkflow(client, purchase, {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      timeouts: purchaseTimeouts(config),
    });
}

/**
 * The sweep's repair of lost signals: every auto top-up changed more than `olderThanMs` ago and not
 * mirrored since (its after-commit signal failed: Temporal away, a crash after the commit, a change made
 * by a purchase's status write) is signaled again. Returns the customers signaled.
 */
export async function signalUnmirroredAutoTopUps(
  { sql, client, config }: { sql: Sql; client: Client; config: Config },
  {
    olderThanMs,
    limit,
    organizationId,
  }: { olderThanMs: number; limit: number; organizationId?: string | undefined },
): Promise<string[]> {
  const rows = await listUnmirroredAutoTopUps(sql, { olderThanMs, limit, organizationId });
  for (const ids of rows) await signalAutoTopUp(client, config, ids, 'sweep: change not mirrored');
  return rows.map((ids) => ids.customerId);
}
