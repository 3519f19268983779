import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import {
  type AutoTopUpPausedReason,
  type AutoTopUpState,
  autoTopUpIdempotencyKey,
  pauseHolds,
  pauseReasonOfIneligibility,
  utcMonth,
} from '../domain/auto-top-up';
import { AppError } from '../domain/errors';
import { inFlightPurchaseStatuses, purchaseWorkflowId } from '../domain/purchase-states';
import type { Query, Sql } from './client';
import { decideEligibility, loadPurchaseFacts } from './eligibility-queries';
import { newId } from './ids';
import { lockCustomerCredits } from './plan-credits';
import { insertPurchase, type PurchaseRow } from './purchases';

/**
 * A customer's auto top-up (migration 00015, docs/auto-top-up.md): the settings, and the decision, in the
 * transaction that moved the customer's credits, to start one top-up purchase.
 *
 * That purchase is an ordinary `purchases` row (trigger `auto_top_up`, status `pending`) inserted in the
 * same transaction as the usage, reversal or PUT that left the total below the threshold, under the
 * customer's row lock; a partial unique index allows one in flight per customer. The row is the durable
 * trigger: its workflow is started after the commit, or by the worker's sweep of unstarted purchases.
 * What a top-up's outcome does (decline count, pauses, the auto_top_up.paused event) is the database's
 * trigger on purchases (migration 00015), so every writer of a status applies it.
 *
 * Time is a parameter (`now`), never read here: the monthly limit's UTC month is the caller's clock, so
 * tests cross a month boundary without waiting for one.
 */

export interface AutoTopUpSettings {
  enabled: boolean;
  thresholdCredits: number;
  creditPackId: string;
  quantity: number;
  /** cents */
  monthlyLimit: number;
}

/** The settings as the API answers them (docs/api.md); before any PUT: off, the settings null. */
export interface AutoTopUp {
  enabled: boolean;
  thresholdCredits: number | null;
  creditPackId: string | null;
  quantity: number | null;
  monthlyLimit: number | null;
  state: AutoTopUpState;
  pausedReason: AutoTopUpPausedReason | null;
}

interface AutoTopUpRow {
  organization_id: string;
  customer_id: string;
  enabled: boolean;
  threshold_credits: number;
  credit_pack_id: string;
  quantity: number;
  monthly_limit_cents: number;
  paused_reason: AutoTopUpPausedReason | null;
  paused_at: Date | null;
  consecutive_declines: number;
  top_ups_started: number;
  /** bigint (as text): bumped by every write but the mirror's (migration 00016) */
  version?: string;
}

type Ids = { organizationId: string; customerId: string };

/** What starting a top-up needs besides the database: the clock (the monthly limit's UTC month). */
export interface TopUpContext {
  now: Date;
}

const OFF: AutoTopUp = {
  enabled: false,
  thresholdCredits: null,
  creditPackId: null,
  quantity: null,
  monthlyLimit: null,
  state: 'off',
  pausedReason: null,
};

/** A pause that still holds at `now` (a monthly_limit pause of an earlier UTC month has lifted). */
function heldPause(row: AutoTopUpRow, now: Date): AutoTopUpPausedReason | null {
  if (!row.paused_reason || !row.paused_at) return null;
  return pauseHolds(row.paused_reason, row.paused_at, now) ? row.paused_reason : null;
}

export function toAutoTopUp(row: AutoTopUpRow | null, now: Date): AutoTopUp {
  if (!row) return OFF;
  const paused = row.enabled ? heldPause(row, now) : null;
  return {
    enabled: row.enabled,
    thresholdCredits: row.threshold_credits,
    creditPackId: row.credit_pack_id,
    quantity: row.quantity,
    monthlyLimit: row.monthly_limit_cents,
    state: !row.enabled ? 'off' : paused ? 'paused' : 'active',
    pausedReason: paused,
  };
}

async function readRow(sql: Query, ids: Ids, lock = false): Promise<AutoTopUpRow | null> {
  const [row] = await sql<AutoTopUpRow[]>`
    select * from auto_top_ups
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
     ${lock ? sql`for update` : sql``}`;
  return row ?? null;
}

/** The customer's auto top-up (404 customer_not_found for a customer of no such id in the organization). */
export async function getAutoTopUp(sql: Sql, ids: Ids, now: Date): Promise<AutoTopUp> {
  const [customer] = await sql`
    select id from customers
     where organization_id = ${ids.organizationId} and id = ${ids.customerId} and deleted_at is null`;
  if (!customer) throw new AppError('customer_not_found', `No customer ${ids.customerId}.`);
  return toAutoTopUp(await readRow(sql, ids), now);
}

/**
 * Saves the settings (PUT): the pack must be one the customer can buy now (else its eligibility code),
 * the quantity within the purchase limit. Saving resets the decline count and lifts any pause; if the
 * total is already below the threshold, the top-up starts in the same transaction (`topUp`).
 */
export async function saveAutoTopUp(
  sql: Sql,
  ids: Ids,
  settings: AutoTopUpSettings,
  context: TopUpContext & { maxQuantity: number },
): Promise<{ autoTopUp: AutoTopUp; topUp: PurchaseRow | null }> {
  if (
    !Number.isInteger(settings.quantity) ||
    settings.quantity < 1 ||
    settings.quantity > context.maxQuantity
  ) {
    throw new AppError(
      'quantity_exceeds_limit',
      `Quantity must be a whole number from 1 to ${context.maxQuantity}.`,
    );
  }
  return sql.begin(async (tx) => {
    if (!(await lockCustomerCredits(tx, ids))) {
      throw new AppError('customer_not_found', `No customer ${ids.customerId}.`);
    }
    const facts = await loadPurchaseFacts(tx as unknown as Sql, {
      ...ids,
      creditPackId: settings.creditPackId,
    });
    const verdict = decideEligibility(facts);
    if (!verdict.ok) throw new AppError(verdict.code, verdict.message);
    await tx`
      insert into auto_top_ups (organization_id, customer_id, enabled, threshold_credits, credit_pack_id,
                                quantity, monthly_limit_cents)
      values (${ids.organizationId}, ${ids.customerId}, ${settings.enabled}, ${settings.thresholdCredits},
              ${settings.creditPackId}, ${settings.quantity}, ${settings.monthlyLimit})
      on conflict (organization_id, customer_id) do update set
        enabled = excluded.enabled, threshold_credits = excluded.threshold_credits,
        credit_pack_id = excluded.credit_pack_id, quantity = excluded.quantity,
        monthly_limit_cents = excluded.monthly_limit_cents,
        paused_reason = null, paused_at = null, consecutive_declines = 0`;
    const topUp = await startTopUpIfBelowThreshold(tx, ids, context);
    return { autoTopUp: toAutoTopUp(await readRow(tx, ids), context.now), topUp };
  });
}

/**
 * In the caller's transaction, which holds the customer's row lock (lockCustomerCredits) and has just
 * moved their credits: if the auto top-up is on and not paused, the total is below the threshold and
 * no top-up is in flight, records the top-up purchase (pending) and returns it; the caller starts its
 * workflow after the commit. Pauses instead, with the auto_top_up.paused event, when the pack or the
 * subscription no longer allows the purchase, or when the month's auto top-ups plus this one would
 * exceed the monthly limit. Null: nothing to start.
 */
export async function startTopUpIfBelowThreshold(
  tx: postgres.TransactionSql,
  ids: Ids,
  { now }: TopUpContext,
): Promise<PurchaseRow | null> {
  const row = await readRow(tx, ids, true);
  if (!row?.enabled) return null;
  if (row.paused_reason) {
    if (heldPause(row, now)) return null;
    await tx`
      update auto_top_ups set paused_reason = null, paused_at = null
       where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
  }
  const [balance] = await tx<{ total: string }[]>`
    select coalesce(sum(credits), 0)::text as total from credit_ledger
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
  if (Number(balance?.total ?? 0) >= row.threshold_credits) return null;
  const [inFlight] = await tx`
    select id from purchases
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
       and trigger = 'auto_top_up' and status = any(${[...inFlightPurchaseStatuses]})
     limit 1`;
  if (inFlight) return null;

  const facts = await loadPurchaseFacts(tx as unknown as Sql, { ...ids, creditPackId: row.credit_pack_id });
  const verdict = decideEligibility(facts);
  if (!verdict.ok || !facts.pack) {
    await pause(tx, ids, verdict.ok ? 'pack_unavailable' : pauseReasonOfIneligibility(verdict.code), now);
    return null;
  }
  const price = facts.pack.priceCents * row.quantity;
  const month = utcMonth(now);
  const [spent] = await tx<{ cents: string }[]>`
    select coalesce(sum(price_cents), 0)::text as cents from purchases
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
       and trigger = 'auto_top_up'
       and status = any(${['completed', ...inFlightPurchaseStatuses]})
       and created_at >= ${month.start} and created_at < ${month.end}`;
  if (Number(spent?.cents ?? 0) + price > row.monthly_limit_cents) {
    await pause(tx, ids, 'monthly_limit', now);
    return null;
  }

  const n = row.top_ups_started + 1;
  await tx`
    update auto_top_ups set top_ups_started = ${n}
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
  const purchaseId = newId('purchase');
  const inserted = await insertPurchase(tx as unknown as Sql, {
    id: purchaseId,
    ...ids,
    creditPackId: facts.pack.id,
    quantity: row.quantity,
    unitCredits: facts.pack.credits,
    unitPriceCents: facts.pack.priceCents,
    packName: facts.pack.name,
    idempotencyKey: autoTopUpIdempotencyKey(n),
    requestHash: createHash('sha256')
      .update(JSON.stringify({ creditPackId: facts.pack.id, quantity: row.quantity }))
      .digest('hex'),
    workflowId: purchaseWorkflowId(purchaseId),
    trigger: 'auto_top_up',
  });
  if (!inserted)
    throw new Error(`auto top-up ${autoTopUpIdempotencyKey(n)} of ${ids.customerId} exists already`);
  return inserted;
}

/**
 * After credits were taken back from a customer (a refund's reversal, a dispute's hold), in that
 * transaction: locks the customer (after the purchase, the order every credit movement keeps) and
 * records the top-up if the total is now below the threshold. Nothing starts its workflow at once
 * (these writers are the webhook receiver and refund code, which start no purchase): the worker's
 * sweep of unstarted purchases does (RECONCILE_PENDING_AFTER_MS + RECONCILE_INTERVAL_MS at most).
 */
export async function topUpAfterReversal(
  tx: postgres.TransactionSql,
  ids: Ids,
  context: TopUpContext,
): Promise<PurchaseRow | null> {
  if (!(await lockCustomerCredits(tx, ids))) return null;
  return startTopUpIfBelowThreshold(tx, ids, context);
}

/**
 * "Resumes by itself on the 1st": auto top-ups paused for `monthly_limit` in an earlier UTC month than
 * `now`, each in its own transaction under the customer's lock, have the pause lifted and, if the total
 * is below the threshold, their top-up recorded (the worker's sweep calls this, so a customer who can
 * no longer use credits is topped up too). Returns the top-ups recorded, at most `limit` customers a call.
 */
export async function topUpLiftedMonthlyLimits(
  sql: Sql,
  { now, limit, organizationId }: { now: Date; limit: number; organizationId?: string | undefined },
): Promise<PurchaseRow[]> {
  const lifted = await sql<Ids[]>`
    select organization_id as "organizationId", customer_id as "customerId" from auto_top_ups
     where enabled and paused_reason = 'monthly_limit' and paused_at < ${utcMonth(now).start}
       ${organizationId ? sql`and organization_id = ${organizationId}` : sql``}
     order by paused_at
     limit ${limit}`;
  const recorded: PurchaseRow[] = [];
  for (const ids of lifted) {
    const topUp = await sql.begin(async (tx) =>
      (await lockCustomerCredits(tx, ids)) ? startTopUpIfBelowThreshold(tx, ids, { now }) : null,
    );
    if (topUp) recorded.push(topUp);
  }
  return recorded;
}

/** Pauses the auto top-up and records auto_top_up.paused (once per pause; see migration 00015). */
async function pause(tx: Query, ids: Ids, reason: AutoTopUpPausedReason, now: Date): Promise<void> {
  await tx`select pause_auto_top_up(${ids.organizationId}, ${ids.customerId}, ${reason}, ${now})`;
}

/** Paused auto top-ups of an organization (operators, the invariant checker). */
export async function listPausedAutoTopUps(
  sql: Sql,
  organizationId: string,
): Promise<{ customerId: string; pausedReason: AutoTopUpPausedReason; pausedAt: Date }[]> {
  return sql`
    select customer_id as "customerId", paused_reason as "pausedReason", paused_at as "pausedAt"
      from auto_top_ups
     where organization_id = ${organizationId} and enabled and paused_reason is not null
     order by paused_at`;
}

/**
 * The reason the auto top-up of a top-up purchase's customer is paused now (null: not paused, or not an
 * auto top-up). The purchase workflow shows it as a search attribute when its outcome paused it.
 */
export async function autoTopUpPausedReasonOf(sql: Sql, purchaseId: string): Promise<string | null> {
  const [row] = await sql<{ reason: string | null }[]>`
    select a.paused_reason as reason
      from purchases p
      join auto_top_ups a on a.organization_id = p.organization_id and a.customer_id = p.customer_id
     where p.id = ${purchaseId} and p.trigger = 'auto_top_up' and a.enabled`;
  return row?.reason ?? null;
}

/**
 * What the customer's auto top-up workflow mirrors (migration 00016): the state at `now`, the row's
 * version, and the top-up purchase owed (recorded, still `pending`: its workflow may not have started).
 * Null when the customer has no auto top-up row.
 */
export async function readAutoTopUpForMirror(
  sql: Sql,
  ids: Ids,
  now: Date,
): Promise<{ autoTopUp: AutoTopUp; version: number; owed: PurchaseRow | null } | null> {
  const row = await readRow(sql, ids);
  if (!row) return null;
  const [owed] = await sql<PurchaseRow[]>`
    select * from purchases
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
       and trigger = 'auto_top_up' and status = 'pending'
     limit 1`;
  return {
    autoTopUp: toAutoTopUp(row, now),
    version: Number(row.version ?? 0),
    owed: owed ?? null,
  };
}

/** Records that the workflow mirrored `version` (a later change keeps the row unmirrored). */
export async function recordAutoTopUpMirrored(sql: Sql, ids: Ids, version: number): Promise<void> {
  await sql`
    update auto_top_ups set mirrored_version = version
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
       and version = ${version} and mirrored_version is distinct from version`;
}

/**
 * Auto top-ups changed since their workflow last mirrored them, and for longer than `olderThanMs` (a
 * fresher change's signal may be on its way): their signal was lost. The worker's sweep signals them.
 */
export async function listUnmirroredAutoTopUps(
  sql: Sql,
  {
    olderThanMs,
    limit,
    organizationId,
  }: { olderThanMs: number; limit: number; organizationId?: string | undefined },
): Promise<Ids[]> {
  return sql<Ids[]>`
    select organization_id as "organizationId", customer_id as "customerId" from auto_top_ups
     where mirrored_version is distinct from version
       and changed_at <= now() - make_interval(secs => ${olderThanMs / 1000})
       ${organizationId ? sql`and organization_id = ${organizationId}` : sql``}
     order by changed_at
     limit ${limit}`;
}

/**
 * The customer of a purchase, if their auto top-up changed since its workflow mirrored it (after a
 * reversal, whose transaction may have recorded a top-up or paused it). Null: nothing to tell.
 */
export async function unmirroredAutoTopUpOf(sql: Sql, purchaseId: string): Promise<Ids | null> {
  const [row] = await sql<Ids[]>`
    select a.organization_id as "organizationId", a.customer_id as "customerId"
      from purchases p
      join auto_top_ups a on a.organization_id = p.organization_id and a.customer_id = p.customer_id
     where p.id = ${purchaseId} and a.mirrored_version is distinct from a.version`;
  return row ?? null;
}

/** Whether the customer's auto top-up changed since its workflow mirrored it. */
export async function autoTopUpUnmirrored(sql: Sql, ids: Ids): Promise<boolean> {
  const [row] = await sql`
    select 1 from auto_top_ups
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
       and mirrored_version is distinct from version`;
  return row !== undefined;
}
