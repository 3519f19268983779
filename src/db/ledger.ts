import type postgres from 'postgres';
import { assertTransition, canTransition, type PurchaseStatus } from '../domain/purchase-states';
import type { Sql } from './client';

/**
 * The credit ledger (migration 00004): immutable entries in two buckets (plan credits reset each
 * period, purchased credits never expire), and the balance view that sums them. A purchase's grant
 * and its reversal are written here, each with the purchase's status change in one transaction.
 */

export interface Balance {
  planCredits: number;
  purchasedCredits: number;
  total: number;
}

/** The customer's balance: a view over the immutable ledger, so it always equals the ledger's sum. */
export async function getBalance(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
): Promise<Balance> {
  const [row] = await sql<{ plan_credits: number; purchased_credits: number; total_credits: number }[]>`
    select plan_credits, purchased_credits, total_credits from credit_balances
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
  if (!row) return { planCredits: 0, purchasedCredits: 0, total: 0 };
  return {
    planCredits: Number(row.plan_credits),
    purchasedCredits: Number(row.purchased_credits),
    total: Number(row.total_credits),
  };
}

/** Why a grant cannot be written; the caller refunds the charge. */
export class GrantRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrantRefusedError';
  }
}

/** The purchase is driven by another workflow run: this run moves nothing. */
export class RunNotOwnerError extends Error {
  constructor(readonly purchaseId: string) {
    super(`purchase ${purchaseId} is driven by another workflow run; this run credits nothing`);
    this.name = 'RunNotOwnerError';
  }
}

/**
 * Grants a purchase's credits and completes it (crediting → completed), in one transaction. A replay
 * finds the purchase past crediting and its grant there (at most one, by a unique index on the
 * purchase's grant) and changes nothing: `replayed: true`. After the locking select, a grant sends its
 * writes in one pipelined round trip and then commits: the locks are held for two round trips of the
 * client (the grants of one customer serialise on them), where the grant took four before. A purchase not found, a customer deleted meanwhile, or a purchase not crediting
 * cannot be credited: GrantRefusedError. Another run's purchase: RunNotOwnerError.
 *
 * With `crediting` (purchases past the workflow's `2026-11-27-status-writes-in-steps` patch,
 * which no longer write `crediting` in an activity of its own), the same transaction first records the
 * move to `crediting` (from `charging` or `requires_action`, checked against the transition table) with
 * the PaymentIntent that paid, then grants and completes: two status updates, so `purchase_transitions`
 * and the events trigger see the same two transitions as before. A grant refused for the customer's
 * deletion still commits the `crediting` write (as the separate write did), so the refund that follows
 * moves the row crediting → refunded as it always has.
 */
export async function grantPurchaseCredits(
  sql: Sql,
  purchaseId: string,
  runId: string,
  { crediting }: { crediting?: { paymentIntentId: string | null } } = {},
): Promise<{ ledgerEntryId: number; replayed: boolean }> {
  const outcome = await sql.begin(async (tx): Promise<GrantOutcome> => {
    // The dispute columns are read here too, for the hold below: the lock keeps them as read (a
    // concurrent writer waits, and a write committed during the lock wait is what this select returns),
    // and the grant changes none of them. The existing grant is NOT read here: a subquery of this
    // select would keep the snapshot taken before the lock wait and miss a grant committed meanwhile.
    const [purchase] = await tx<
      (GrantedPurchase & { status: PurchaseStatus; deletedAt: Date | null; workflowRunId: string | null })[]
    >`
      select p.organization_id as "organizationId", p.customer_id as "customerId", p.credits, p.status,
             c.deleted_at as "deletedAt", p.workflow_run_id as "workflowRunId",
             p.price_cents as "priceCents", p.dispute_status as "disputeStatus",
             p.dispute_amount_cents as "disputeAmountCents", p.dispute_credits_held as held,
             p.credits_reversed_by_refunds as reversed
        from purchases p
        join customers c on c.organization_id = p.organization_id and c.id = p.customer_id
       where p.id = ${purchaseId}
         for update of p, c`;
    if (!purchase) throw new GrantRefusedError(`purchase ${purchaseId} not found`);
    // Only the run that drives the purchase credits it (a reset or rerun finds it claimed).
    if (purchase.workflowRunId !== null && purchase.workflowRunId !== runId) {
      throw new RunNotOwnerError(purchaseId);
    }

    // No grant can exist while the purchase is in a status the grant may start from: a grant is only
    // ever written in the transaction that moves its purchase to `completed` (below, the one insert of
    // a `purchase_grant`), and nothing reached from `completed` leads back to `crediting`, `charging`
    // or `requires_action` (the transition table; the database's status guard too). So the existing
    // grant is read only when the status says one may exist: a replay, or a purchase that cannot be
    // credited. The locking select above re-reads the row after any lock wait, so a grant committed by
    // a concurrent attempt meanwhile shows here as status `completed`, and this read (a statement of
    // its own, with a snapshot taken after the lock) finds it. Should the invariant ever break, the
    // unique index on the purchase's grant (credit_ledger_one_grant_per_purchase) is the backstop: the
    // insert below fails and the transaction rolls back, rather than crediting twice.
    const startsFrom = purchase.status;
    const grantMayStart =
      startsFrom === 'crediting' || (crediting !== undefined && canTransition(startsFrom, 'crediting'));
    if (!grantMayStart) {
      const [existing] = await tx<{ id: number }[]>`
        select id from credit_ledger where purchase_id = ${purchaseId} and kind = 'purchase_grant'`;
      if (existing) return { ledgerEntryId: Number(existing.id), replayed: true };
    }

    const recordCrediting = crediting !== undefined && startsFrom !== 'crediting';
    if (recordCrediting && !canTransition(startsFrom, 'crediting')) {
      throw new GrantRefusedError(`purchase ${purchaseId} is ${startsFrom} and cannot be credited`);
    }
    const toCrediting = () => tx`
      update purchases set status = 'crediting', next_action = null, failure_code = null,
             failure_message = null, failure_decline_code = null,
             stripe_payment_intent_id = coalesce(${crediting?.paymentIntentId ?? null}, stripe_payment_intent_id)
       where id = ${purchaseId}`;
    const status: PurchaseStatus = recordCrediting ? 'crediting' : startsFrom;

    if (purchase.deletedAt) {
      // Refused, but the move to `crediting` stands: the purchase was charged and is being settled.
      if (recordCrediting) await toCrediting();
      return { refused: `customer ${purchase.customerId} was deleted` };
    }
    if (status !== 'crediting') {
      throw new GrantRefusedError(`purchase ${purchaseId} is ${status}, not crediting`);
    }
    assertTransition(purchaseId, status, 'completed');
    // The statements from here on depend on nothing they return, so they are pipelined: postgres.js
    // sends queries issued without awaiting on the transaction's connection one after the other
    // without waiting for each answer, and Postgres runs them in that order (each with its own Sync:
    // if one fails, the ones after it fail too, and the transaction rolls back). One round trip under
    // the lock for what took three (the existing grant's read, the insert, the update; four with
    // `crediting`).
    const insertGrant = tx<{ id: number }[]>`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
      values (${purchase.organizationId}, ${purchase.customerId}, 'purchased', 'purchase_grant',
              ${purchase.credits}, ${purchaseId}, ${`Credit pack purchase ${purchaseId}`})
      returning id`;
    const toCompleted = tx`
      update purchases set status = 'completed', next_action = null, failure_code = null,
             failure_message = null, failure_decline_code = null
       where id = ${purchaseId}`;
    const [entry] = recordCrediting
      ? (await Promise.all([toCrediting(), insertGrant, toCompleted]))[1]
      : (await Promise.all([insertGrant, toCompleted]))[0];
    if (!entry) throw new Error('insert into credit_ledger returned no row');
    await holdForDisputeOpenedBeforeGrant(tx, purchaseId, purchase);
    return { ledgerEntryId: Number(entry.id), replayed: false };
  });
  if ('refused' in outcome) throw new GrantRefusedError(outcome.refused);
  return outcome;
}

type GrantOutcome = { ledgerEntryId: number; replayed: boolean } | { refused: string };

/** What the grant reads of its purchase, under its lock: whom to credit, and its dispute. */
interface GrantedPurchase {
  organizationId: string;
  customerId: string;
  credits: number;
  priceCents: number;
  disputeStatus: string | null;
  disputeAmountCents: number | null;
  held: number;
  reversed: number;
}

/**
 * A dispute Stripe opened before the credits were granted (its event can outrun the charge's answer)
 * held nothing then: hold its share now, in the grant's transaction, so a lost dispute never leaves
 * the credits standing.
 */
async function holdForDisputeOpenedBeforeGrant(
  tx: postgres.TransactionSql,
  purchaseId: string,
  purchase: GrantedPurchase,
): Promise<void> {
  if (purchase.disputeStatus !== 'open' && purchase.disputeStatus !== 'lost') return;
  if (purchase.held > 0 || !purchase.disputeAmountCents) return;
  const held = Math.min(
    Math.floor((purchase.credits * purchase.disputeAmountCents) / purchase.priceCents),
    purchase.credits - purchase.reversed,
  );
  if (held <= 0) return;
  await tx`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
    values (${purchase.organizationId}, ${purchase.customerId}, 'purchased', 'dispute_hold', ${-held},
            ${purchaseId}, ${`Dispute on purchase ${purchaseId}, held at the grant`})`;
  await tx`update purchases set dispute_credits_held = ${held} where id = ${purchaseId}`;
}

/**
 * Takes back a completed purchase's credits because its charge was refunded after completion: the
 * purchase's reversal ledger entry (at most one per purchase, by a unique index; bounded by the
 * purchase's credits, by trigger) and the move completed → refunded, in the caller's transaction.
 * Idempotent: a purchase not completed, or already reversed, is left as it is. Returns whether it acted.
 */
export async function reverseRefundedPurchase(
  tx: postgres.TransactionSql,
  { purchaseId, refundId }: { purchaseId: string; refundId: string | null },
): Promise<boolean> {
  const [purchase] = await tx<{ id: string }[]>`
    select id from purchases where id = ${purchaseId} and status = 'completed' for update`;
  if (!purchase) return false;
  assertTransition(purchaseId, 'completed', 'refunded');
  await tx`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description)
    select organization_id, customer_id, 'purchased', 'reversal', -credits, id,
           ${`Refund after completion of purchase ${purchaseId}`}
      from purchases where id = ${purchaseId}
    on conflict (purchase_id) where kind = 'reversal' and purchase_id is not null do nothing`;
  await tx`
    update purchases set
      status = 'refunded',
      failure_code = 'refunded_after_completion',
      failure_message = 'The payment was refunded after the credits were granted, so the credits were taken back.',
      stripe_refund_id = coalesce(${refundId}, stripe_refund_id)
     where id = ${purchaseId} and status = 'completed'`;
  return true;
}
