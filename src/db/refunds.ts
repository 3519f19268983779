import type postgres from 'postgres';
import { AppError } from '../domain/errors';
import { assertTransition } from '../domain/purchase-states';
import { type RefundStatus, refundStatusOf, refundWorkflowId } from '../domain/refunds';
import { topUpAfterReversal } from './auto-top-up';
import type { Query, Sql } from './client';
import { claimIdempotencyKey, recordIdempotentAnswer } from './idempotency';
import { newId } from './ids';
import type { PurchaseRow } from './purchases';

/**
 * Refunds and disputes of a purchase's charge (migration 00009), and the credits they move. Every
 * function here writes the refund or dispute, the purchase's running totals and the ledger entries in
 * one transaction, so the balance, the ledger and the refunds never disagree:
 *
 *   purchase.refunded_amount_cents        = Σ amount of its pending and succeeded refunds
 *   purchase.credits_reversed_by_refunds  = floor(credits × refunded_amount / price) once granted, else 0
 *   ledger: −reversal per refund, +reversal_restore when a refund fails, −dispute_hold / +dispute_release
 *
 * A purchase becomes `refunded` when its succeeded refunds cover its price; a refund that fails after
 * that brings it back to `completed` with its credits (Stripe can fail a refund it reported succeeded).
 */

export type { RefundStatus } from '../domain/refunds';
export type RefundReason = 'requested_by_customer' | 'duplicate' | 'fraudulent';
export type RefundSource = 'admin' | 'compensation' | 'stripe';

/** Every column of `refunds`. */
export interface RefundRow {
  id: string;
  organization_id: string;
  customer_id: string;
  purchase_id: string;
  amount_cents: number;
  credits_reversed: number;
  reason: RefundReason | null;
  status: RefundStatus;
  source: RefundSource;
  stripe_refund_id: string | null;
  failure_reason: string | null;
  workflow_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A refund as the API shows it (docs/api.md#contract-additions). */
export interface Refund {
  id: string;
  purchaseId: string;
  amount: number;
  creditsReversed: number;
  reason: RefundReason | null;
  status: RefundStatus;
  createdAt: string;
}

export const toRefund = (r: RefundRow): Refund => ({
  id: r.id,
  purchaseId: r.purchase_id,
  amount: r.amount_cents,
  creditsReversed: r.credits_reversed,
  reason: r.reason,
  status: r.status,
  createdAt: r.created_at.toISOString(),
});

/** A purchase's refunds, oldest first (those made in Stripe directly included). */
export async function listRefunds(
  sql: Sql,
  ids: { organizationId: string; purchaseId: string },
): Promise<RefundRow[]> {
  return sql<RefundRow[]>`
    select * from refunds
     where organization_id = ${ids.organizationId} and purchase_id = ${ids.purchaseId}
     order by created_at, id`;
}

export async function findRefund(sql: Query, refundId: string): Promise<RefundRow | null> {
  const [row] = await sql<RefundRow[]>`select * from refunds where id = ${refundId}`;
  return row ?? null;
}

/** The credits a purchase's refunds take back: all of them once refunded in full. */
function refundCredits(purchase: PurchaseRow, granted: boolean, refundedCents: number): number {
  if (!granted) return 0;
  return Math.floor((purchase.credits * refundedCents) / purchase.price_cents);
}

async function lockPurchase(tx: postgres.TransactionSql, purchaseId: string): Promise<PurchaseRow | null> {
  const [row] = await tx<PurchaseRow[]>`select * from purchases where id = ${purchaseId} for update`;
  return row ?? null;
}

async function wasGranted(tx: postgres.TransactionSql, purchaseId: string): Promise<boolean> {
  const [grant] = await tx`
    select 1 from credit_ledger where purchase_id = ${purchaseId} and kind = 'purchase_grant'`;
  return grant !== undefined;
}

/**
 * Moves the purchase's refund totals to `refundedCents`, writing the ledger entry for the change of
 * reversed credits (a reversal when more is taken back, a restore when a refund failed), tied to
 * `refundId`. Returns the increase of reversed credits (negative for a restore).
 */
async function moveRefundTotals(
  tx: postgres.TransactionSql,
  purchase: PurchaseRow,
  refundId: string,
  refundedCents: number,
): Promise<number> {
  const granted = await wasGranted(tx, purchase.id);
  const reversed = refundCredits(purchase, granted, refundedCents);
  const change = reversed - purchase.credits_reversed_by_refunds;
  if (change !== 0) {
    const kind = change > 0 ? 'reversal' : 'reversal_restore';
    await tx`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, refund_id, description)
      values (${purchase.organization_id}, ${purchase.customer_id}, 'purchased', ${kind}, ${-change},
              ${purchase.id}, ${refundId},
              ${change > 0 ? `Refund ${refundId} of purchase ${purchase.id}` : `Refund ${refundId} failed: credits given back`})`;
  }
  await tx`
    update purchases set refunded_amount_cents = ${refundedCents}, credits_reversed_by_refunds = ${reversed}
     where id = ${purchase.id}`;
  purchase.refunded_amount_cents = refundedCents;
  purchase.credits_reversed_by_refunds = reversed;
  if (change > 0) await topUpAfterReversal(tx, customerOf(purchase), { now: new Date() });
  return change;
}

const customerOf = (purchase: PurchaseRow) => ({
  organizationId: purchase.organization_id,
  customerId: purchase.customer_id,
});

/**
 * Moves a completed purchase to `refunded` once its succeeded refunds cover its price, and a refunded
 * one back to `completed` when a refund that did so failed. Purchases that never completed are the
 * workflow's to settle: left alone.
 */
async function settlePurchaseStatus(tx: postgres.TransactionSql, purchase: PurchaseRow): Promise<void> {
  const granted = await wasGranted(tx, purchase.id);
  if (!granted) return;
  const [succeeded] = await tx<{ cents: number }[]>`
    select coalesce(sum(amount_cents), 0)::int as cents from refunds
     where purchase_id = ${purchase.id} and status = 'succeeded'`;
  const refundedInFull = (succeeded?.cents ?? 0) >= purchase.price_cents;
  if (purchase.status === 'completed' && refundedInFull) {
    assertTransition(purchase.id, 'completed', 'refunded');
    await tx`
      update purchases set status = 'refunded', failure_code = 'refunded_after_completion',
             failure_message = 'The payment was refunded after the credits were granted, so the credits were taken back.'
       where id = ${purchase.id}`;
    purchase.status = 'refunded';
  } else if (purchase.status === 'refunded' && !refundedInFull) {
    assertTransition(purchase.id, 'refunded', 'completed');
    await tx`
      update purchases set status = 'completed', failure_code = null, failure_message = null
       where id = ${purchase.id}`;
    purchase.status = 'completed';
  }
}

// ── Refunds made through the API ──────────────────────────────────────────────────────────────────────

export interface RefundRequest {
  organizationId: string;
  purchaseId: string;
  /** null: what is left (price − refunded) */
  amountCents: number | null;
  reason: RefundReason | null;
  idempotencyKey: string;
  /** the request's path and the sha256 of its body, stored with the key */
  requestPath: string;
  requestHash: string;
}

export type RefundCreation =
  | { replayed: false; refund: RefundRow; purchase: PurchaseRow }
  /** the key was used before for this same request: its first answer */
  | { replayed: true; statusCode: number; response: unknown };

/**
 * An operator's refund: records it (pending) and takes back the credits it is worth, in one
 * transaction with its Idempotency-Key, or answers the key's first answer again. Refused (409
 * not_refundable, nothing written): a purchase that is not completed, is under an open or lost
 * dispute, or has less left to refund than asked. The Stripe refund itself is the refund workflow's.
 */
export function createRefund(sql: Sql, request: RefundRequest): Promise<RefundCreation> {
  return sql.begin(async (tx): Promise<RefundCreation> => {
    const claim = await claimIdempotencyKey(tx, request);
    if (!claim.claimed) return { replayed: true, statusCode: claim.statusCode, response: claim.response };

    const [found] = await tx<PurchaseRow[]>`
      select * from purchases where organization_id = ${request.organizationId} and id = ${request.purchaseId}
         for update`;
    if (!found) throw new AppError('purchase_not_found', `No purchase ${request.purchaseId}.`);
    const purchase = found;
    const notRefundable = (why: string) =>
      new AppError('not_refundable', `Purchase ${purchase.id} cannot be refunded: ${why}.`);
    if (purchase.status !== 'completed') throw notRefundable(`it is ${purchase.status}, not completed`);
    if (purchase.dispute_status === 'open' || purchase.dispute_status === 'lost') {
      throw notRefundable(`its payment is disputed (${purchase.dispute_status})`);
    }
    const leftCents = purchase.price_cents - purchase.refunded_amount_cents;
    const amountCents = request.amountCents ?? leftCents;
    if (leftCents <= 0) throw notRefundable('it is refunded in full already');
    if (amountCents > leftCents)
      throw notRefundable(`${amountCents} cents is more than the ${leftCents} left`);

    const refundId = newId('refund');
    const [inserted] = await tx<RefundRow[]>`
      insert into refunds (id, organization_id, customer_id, purchase_id, amount_cents, reason, status, source, workflow_id)
      values (${refundId}, ${purchase.organization_id}, ${purchase.customer_id}, ${purchase.id}, ${amountCents},
              ${request.reason}, 'pending', 'admin', ${refundWorkflowId(refundId)})
      returning *`;
    if (!inserted) throw new Error('insert into refunds returned no row');
    const increase = await moveRefundTotals(
      tx,
      purchase,
      refundId,
      purchase.refunded_amount_cents + amountCents,
    );
    const [refund] = await tx<RefundRow[]>`
      update refunds set credits_reversed = ${Math.max(0, increase)} where id = ${refundId} returning *`;
    if (!refund) throw new Error('refund vanished in its own transaction');
    await recordIdempotentAnswer(tx, request, 202, toRefund(refund));
    return { replayed: false, refund, purchase };
  });
}

/** Records the Stripe refund an API refund became (the refund workflow, after Stripe answered). */
export async function recordStripeRefundId(
  sql: Sql,
  refundId: string,
  stripeRefundId: string,
): Promise<void> {
  await sql`
    update refunds set stripe_refund_id = coalesce(stripe_refund_id, ${stripeRefundId}) where id = ${refundId}`;
}

/**
 * A refund's outcome: pending → succeeded or failed, or succeeded → failed (Stripe can fail a refund it
 * reported succeeded). A failed refund gives back what it took: the purchase's refunded amount and the
 * credits. Idempotent: the same outcome again, or an older one, changes nothing. Returns the refund.
 */
export async function settleRefund(
  tx: postgres.TransactionSql,
  refundId: string,
  outcome: { status: 'succeeded' | 'failed'; failureReason?: string | null },
): Promise<RefundRow | null> {
  // Lock order everywhere: the purchase, then its refunds (the webhook's sync takes them so too).
  const [unlocked] = await tx<RefundRow[]>`select * from refunds where id = ${refundId}`;
  if (!unlocked) return null;
  const purchase = await lockPurchase(tx, unlocked.purchase_id);
  if (!purchase) throw new Error(`refund ${refundId} has no purchase ${unlocked.purchase_id}`);
  const [refund] = await tx<RefundRow[]>`select * from refunds where id = ${refundId} for update`;
  if (!refund) return null;
  const moves = refund.status === 'pending' || (refund.status === 'succeeded' && outcome.status === 'failed');
  if (!moves || refund.status === outcome.status) return refund;
  const [settled] = await tx<RefundRow[]>`
    update refunds set status = ${outcome.status}, failure_reason = ${outcome.failureReason ?? null}
     where id = ${refundId} returning *`;
  if (outcome.status === 'failed') {
    await moveRefundTotals(tx, purchase, refundId, purchase.refunded_amount_cents - refund.amount_cents);
  }
  await settlePurchaseStatus(tx, purchase);
  return settled ?? refund;
}

/** The API refunds whose workflow was never started (recorded, then the process or Temporal failed). */
export async function listUnstartedRefunds(
  sql: Sql,
  { olderThanMs, limit }: { olderThanMs: number; limit: number },
): Promise<RefundRow[]> {
  return sql<RefundRow[]>`
    select * from refunds
     where source = 'admin' and status = 'pending' and stripe_refund_id is null
       and created_at < now() - ${`${olderThanMs} milliseconds`}::interval
     order by created_at
     limit ${limit}`;
}

// ── Stripe as a source of truth ───────────────────────────────────────────────────────────────────────

/** A refund as Stripe lists it (only the fields the product reads). */
export interface StripeRefundFacts {
  id: string;
  amount: number;
  status: string | null;
  metadata: Record<string, string> | null;
  failureReason: string | null;
}

/**
 * Takes in the refunds Stripe holds for a purchase's charge (a `charge.refunded` or refund event,
 * whatever the purchase's status, in any order, any number of times): a refund not known yet is
 * recorded (its source: the compensation when it carries only the purchase's metadata, else Stripe)
 * and its credits taken back; a known one (by Stripe id, or the API refund it was made for) gets
 * Stripe's status. Returns how many refunds were recorded or changed.
 */
export async function syncStripeRefunds(
  tx: postgres.TransactionSql,
  purchaseId: string,
  stripeRefunds: StripeRefundFacts[],
): Promise<number> {
  const purchase = await lockPurchase(tx, purchaseId);
  if (!purchase) return 0;
  let changed = 0;
  for (const stripeRefund of stripeRefunds) {
    const status = refundStatusOf(stripeRefund.status);
    const ours = stripeRefund.metadata?.refund_id ?? null;
    const [known] = await tx<RefundRow[]>`
      select * from refunds
       where purchase_id = ${purchase.id}
         and (stripe_refund_id = ${stripeRefund.id} or (${ours}::text is not null and id = ${ours}))
       for update`;
    if (known) {
      if (!known.stripe_refund_id) await recordStripeRefundIdIn(tx, known.id, stripeRefund.id);
      if (status !== 'pending' && known.status !== status) {
        const before = known.status;
        const after = await settleRefund(tx, known.id, { status, failureReason: stripeRefund.failureReason });
        if (after && after.status !== before) changed += 1;
      }
      continue;
    }
    const refundId = newId('refund');
    const source: RefundSource =
      stripeRefund.metadata?.purchase_id === purchase.id && !ours ? 'compensation' : 'stripe';
    await tx`
      insert into refunds (id, organization_id, customer_id, purchase_id, amount_cents, status, source,
                           stripe_refund_id, failure_reason)
      values (${refundId}, ${purchase.organization_id}, ${purchase.customer_id}, ${purchase.id},
              ${stripeRefund.amount}, ${status}, ${source}, ${stripeRefund.id}, ${stripeRefund.failureReason})`;
    if (status !== 'failed') {
      const refundedCents = Math.min(
        purchase.price_cents,
        purchase.refunded_amount_cents + stripeRefund.amount,
      );
      const increase = await moveRefundTotals(tx, purchase, refundId, refundedCents);
      await tx`update refunds set credits_reversed = ${Math.max(0, increase)} where id = ${refundId}`;
    }
    changed += 1;
  }
  await settlePurchaseStatus(tx, purchase);
  return changed;
}

async function recordStripeRefundIdIn(tx: postgres.TransactionSql, refundId: string, stripeRefundId: string) {
  await tx`update refunds set stripe_refund_id = ${stripeRefundId} where id = ${refundId} and stripe_refund_id is null`;
}

// ── Disputes ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * A dispute opened on the purchase's charge (`charge.dispute.created`): holds back
 * floor(credits × disputed / price) credits at once (at most what refunds left), and leaves the
 * purchase's status as it is. A second dispute event for the same dispute changes nothing.
 */
export async function openDispute(
  tx: postgres.TransactionSql,
  purchaseId: string,
  dispute: { stripeDisputeId: string; amountCents: number },
): Promise<boolean> {
  const purchase = await lockPurchase(tx, purchaseId);
  if (!purchase || purchase.stripe_dispute_id !== null) return false;
  const granted = await wasGranted(tx, purchase.id);
  const amountCents = Math.min(dispute.amountCents, purchase.price_cents);
  const held = granted
    ? Math.min(
        Math.floor((purchase.credits * amountCents) / purchase.price_cents),
        purchase.credits - purchase.credits_reversed_by_refunds,
      )
    : 0;
  if (held > 0) {
    await tx`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
      values (${purchase.organization_id}, ${purchase.customer_id}, 'purchased', 'dispute_hold', ${-held},
              ${purchase.id}, ${`Dispute ${dispute.stripeDisputeId} on purchase ${purchase.id}`})`;
  }
  await tx`
    update purchases set dispute_status = 'open', dispute_amount_cents = ${amountCents},
           dispute_credits_held = ${held}, stripe_dispute_id = ${dispute.stripeDisputeId}
     where id = ${purchase.id}`;
  if (held > 0) await topUpAfterReversal(tx, customerOf(purchase), { now: new Date() });
  return true;
}

/**
 * A dispute closed (`charge.dispute.closed`): won gives the held credits back, lost keeps them taken.
 * Only an open dispute closes; anything else (a repeat, another dispute's id) changes nothing.
 */
export async function closeDispute(
  tx: postgres.TransactionSql,
  purchaseId: string,
  dispute: { stripeDisputeId: string; won: boolean },
): Promise<boolean> {
  const purchase = await lockPurchase(tx, purchaseId);
  if (
    !purchase ||
    purchase.stripe_dispute_id !== dispute.stripeDisputeId ||
    purchase.dispute_status !== 'open'
  ) {
    return false;
  }
  if (dispute.won && purchase.dispute_credits_held > 0) {
    await tx`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
      values (${purchase.organization_id}, ${purchase.customer_id}, 'purchased', 'dispute_release',
              ${purchase.dispute_credits_held}, ${purchase.id},
              ${`Dispute ${dispute.stripeDisputeId} won: credits given back`})`;
  }
  await tx`
    update purchases set dispute_status = ${dispute.won ? 'won' : 'lost'},
           dispute_credits_held = ${dispute.won ? 0 : purchase.dispute_credits_held}
     where id = ${purchase.id}`;
  return true;
}
