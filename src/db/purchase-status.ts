import {
  assertTransition,
  type NextAction,
  type PurchaseStatus,
  statusesAllowedBefore,
} from '../domain/purchase-states';
import type { Sql } from './client';
import type { PurchaseRow } from './purchases';

/**
 * Every status change of a purchase, checked against the transition table of
 * src/domain/purchase-states.ts: a move the table forbids throws ForbiddenTransitionError and writes
 * nothing. Beneath it the database keeps its own guard (a settled purchase stays settled) and logs
 * every change into `purchase_transitions` (migration 00003). The grant's crediting → completed and
 * the reversal's completed → refunded are in ledger.ts, checked the same way.
 */

/**
 * Claims the purchase for one workflow run: only a pending purchase that no other run claimed
 * (migration 00007_purchase_claim). Idempotent for the claiming run. `claimed: false` says what the
 * purchase is instead (null: it does not exist).
 */
export async function claimPurchase(
  sql: Sql,
  purchaseId: string,
  runId: string,
): Promise<{ claimed: true } | { claimed: false; current: PurchaseOwner | null }> {
  const claimed = await sql`
    update purchases set workflow_run_id = ${runId}
     where id = ${purchaseId}
       and (workflow_run_id = ${runId} or (workflow_run_id is null and status = 'pending'))
    returning id`;
  if (claimed.length > 0) return { claimed: true };
  return { claimed: false, current: await purchaseOwner(sql, purchaseId) };
}

export interface PurchaseOwner {
  status: PurchaseStatus;
  workflowRunId: string | null;
}

/**
 * Whether this workflow run drives the purchase (it claimed it, or the purchase predates claims). Every
 * money step asks first: a run made by a reset or a rerun is not the purchase's and moves no money.
 */
export async function runOwnsPurchase(sql: Sql, purchaseId: string, runId: string): Promise<boolean> {
  const owner = await purchaseOwner(sql, purchaseId);
  return owner !== null && (owner.workflowRunId === null || owner.workflowRunId === runId);
}

async function purchaseOwner(sql: Sql, purchaseId: string): Promise<PurchaseOwner | null> {
  const [row] = await sql<PurchaseOwner[]>`
    select status, workflow_run_id as "workflowRunId" from purchases where id = ${purchaseId}`;
  return row ?? null;
}

export interface StatusRecord {
  purchaseId: string;
  status: PurchaseStatus;
  nextAction: NextAction | null;
  failure: { code: string; message: string; declineCode?: string | null } | null;
  setupIntentId?: string | null;
  paymentIntentId?: string | null;
  refundId?: string | null;
}

/**
 * Writes the workflow's state into the row, for the run that drives it. Idempotent: a retry writes
 * the same values (a repeat of the current status is allowed). Returns false when the purchase does
 * not exist or another run drives it; throws ForbiddenTransitionError for a move the table forbids.
 */
export async function recordPurchaseStatus(sql: Sql, record: StatusRecord, runId: string): Promise<boolean> {
  const nextAction = record.nextAction ? sql.json(record.nextAction) : null;
  const rows = await sql`
    update purchases set
      status = ${record.status},
      next_action = ${nextAction},
      failure_code = ${record.failure?.code ?? null},
      failure_message = ${record.failure?.message ?? null},
      failure_decline_code = ${record.failure?.declineCode ?? null},
      stripe_setup_intent_id = coalesce(${record.setupIntentId ?? null}, stripe_setup_intent_id),
      stripe_payment_intent_id = coalesce(${record.paymentIntentId ?? null}, stripe_payment_intent_id),
      stripe_refund_id = coalesce(${record.refundId ?? null}, stripe_refund_id)
     where id = ${record.purchaseId}
       and (workflow_run_id is null or workflow_run_id = ${runId})
       and status = any(${statusesAllowedBefore(record.status)})
     returning id`;
  if (rows.length > 0) return true;
  const current = await purchaseOwner(sql, record.purchaseId);
  if (!current || (current.workflowRunId !== null && current.workflowRunId !== runId)) return false;
  assertTransition(record.purchaseId, current.status, record.status);
  // Allowed after all: the row moved between the two statements. A plain error: the activity retries.
  throw new Error(`purchase ${record.purchaseId} changed during its status write; retrying`);
}

/**
 * Cancels, in the database, a pending purchase that no workflow has claimed (recorded at checkout,
 * its workflow never started): atomically, so a workflow started meanwhile (the orphan sweep, a
 * retried checkout) either claimed it first (no row matches: null) or finds it canceled and touches
 * nothing. Returns the canceled row.
 */
export async function cancelUnclaimedPurchase(
  sql: Sql,
  purchaseId: string,
  message: string,
): Promise<PurchaseRow | null> {
  assertTransition(purchaseId, 'pending', 'canceled');
  const [row] = await sql<PurchaseRow[]>`
    update purchases
       set status = 'canceled', failure_code = 'canceled', failure_message = ${message}, next_action = null
     where id = ${purchaseId} and status = 'pending' and workflow_run_id is null
    returning *`;
  return row ?? null;
}

/** The failure code a purchase shows while its compensation keeps failing (its status unchanged). */
export const COMPENSATION_STUCK = 'compensation_stuck';

/**
 * Says on the row that the purchase's undo (a refund, a cancel) cannot proceed yet, naming the step and
 * Stripe's last answer, without changing its status: the customer and operators see why a purchase
 * stays `charging` or `crediting` while Temporal keeps retrying. The final transition overwrites it.
 * Only for the run that drives the purchase, and never on a settled purchase.
 */
export async function markCompensationStuck(
  sql: Sql,
  purchaseId: string,
  runId: string,
  message: string,
): Promise<void> {
  await sql`
    update purchases set failure_code = ${COMPENSATION_STUCK}, failure_message = ${message.slice(0, 500)}
     where id = ${purchaseId}
       and (workflow_run_id is null or workflow_run_id = ${runId})
       and status in ('pending', 'awaiting_payment_method', 'charging', 'requires_action', 'crediting')`;
}

/** How many purchases show a stuck compensation now (the worker's `credit_pack_compensations_stuck` gauge). */
export async function countStuckCompensations(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from purchases
     where failure_code = ${COMPENSATION_STUCK}
       and status in ('pending', 'awaiting_payment_method', 'charging', 'requires_action', 'crediting')`;
  return row?.n ?? 0;
}
