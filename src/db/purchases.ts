import { AppError } from '../domain/errors';
import type { NextAction, PurchaseStatus } from '../domain/purchase-states';
import type { Query, Sql } from './client';

/**
 * The `purchases` table (migrations 00003, 00005, 00007): the business record of one credit-pack
 * purchase. Reads, the checkout's insert, and the answers' shapes. Status changes are in
 * purchase-status.ts; the credit grant and reversal in ledger.ts.
 */

/** Every column of `purchases`, as postgres.js returns it. */
export interface PurchaseRow {
  id: string;
  organization_id: string;
  customer_id: string;
  credit_pack_id: string;
  quantity: number;
  unit_credits: number;
  unit_price_cents: number;
  /** totals: quantity × the pack's snapshot at checkout */
  credits: number;
  price_cents: number;
  currency: 'usd';
  status: PurchaseStatus;
  next_action: NextAction | null;
  failure_code: string | null;
  failure_message: string | null;
  failure_decline_code: string | null;
  stripe_setup_intent_id: string | null;
  stripe_payment_intent_id: string | null;
  stripe_refund_id: string | null;
  /** the checkout's Idempotency-Key, and the sha256 of the body it first came with */
  idempotency_key: string;
  request_hash: string;
  workflow_id: string | null;
  /** the workflow run that claimed the purchase (00007_purchase_claim); null until claimed */
  workflow_run_id: string | null;
  created_at: Date;
  updated_at: Date;
  /** refunds and disputes (00009): see src/db/refunds.ts */
  trigger: PurchaseTrigger;
  refunded_amount_cents: number;
  credits_reversed_by_refunds: number;
  dispute_status: 'open' | 'won' | 'lost' | null;
  dispute_amount_cents: number | null;
  dispute_credits_held: number;
  stripe_dispute_id: string | null;
  /** the pack's name at checkout (00011), what the receipt shows */
  pack_name: string;
}

/** What started a purchase: the customer portal, an auto top-up, or the operators' command line. */
export type PurchaseTrigger = 'portal' | 'auto_top_up' | 'admin';

/** A purchase as the portal shows it (docs/api.md). */
export interface Purchase {
  id: string;
  status: PurchaseStatus;
  creditPackId: string;
  quantity: number;
  credits: number;
  price: number;
  currency: 'usd';
  nextAction: NextAction | null;
  failure: { code: string; message: string } | null;
  trigger: PurchaseTrigger;
  /** cents: the purchase's pending and succeeded refunds, whoever made them */
  refundedAmount: number;
  /** credits taken back for refunds and disputes */
  creditsReversed: number;
  dispute: { status: 'open' | 'won' | 'lost'; amount: number } | null;
  createdAt: string;
  updatedAt: string;
}

export interface AdminPurchase extends Purchase {
  customerId: string;
}

export const toPurchase = (r: PurchaseRow): Purchase => ({
  id: r.id,
  status: r.status,
  creditPackId: r.credit_pack_id,
  quantity: r.quantity,
  credits: r.credits,
  price: r.price_cents,
  currency: r.currency,
  nextAction: r.next_action,
  failure: r.failure_code !== null ? { code: r.failure_code, message: r.failure_message ?? '' } : null,
  trigger: r.trigger,
  refundedAmount: r.refunded_amount_cents,
  creditsReversed: r.credits_reversed_by_refunds + r.dispute_credits_held,
  dispute:
    r.dispute_status !== null && r.dispute_amount_cents !== null
      ? { status: r.dispute_status, amount: r.dispute_amount_cents }
      : null,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const toAdminPurchase = (r: PurchaseRow): AdminPurchase => ({
  ...toPurchase(r),
  customerId: r.customer_id,
});

/** The most purchases one list answers. */
export const PURCHASE_LIST_DEFAULT_LIMIT = 100;

export async function listPurchases(
  sql: Sql,
  organizationId: string,
  filter: {
    customerId?: string | undefined;
    status?: PurchaseStatus | undefined;
    limit?: number | undefined;
  },
): Promise<PurchaseRow[]> {
  return sql<PurchaseRow[]>`
    select * from purchases
     where organization_id = ${organizationId}
       ${filter.customerId ? sql`and customer_id = ${filter.customerId}` : sql``}
       ${filter.status ? sql`and status = ${filter.status}` : sql``}
     order by created_at desc, id desc
     limit ${filter.limit ?? PURCHASE_LIST_DEFAULT_LIMIT}`;
}

/** One purchase of one customer; another customer's (or organization's) purchase is not found. */
export async function getCustomerPurchase(
  sql: Sql,
  ids: { organizationId: string; customerId?: string | undefined; purchaseId: string },
): Promise<PurchaseRow> {
  const [row] = await sql<PurchaseRow[]>`
    select * from purchases
     where organization_id = ${ids.organizationId} and id = ${ids.purchaseId}
       ${ids.customerId ? sql`and customer_id = ${ids.customerId}` : sql``}`;
  if (!row) throw new AppError('purchase_not_found', `No purchase ${ids.purchaseId}.`);
  return row;
}

/** A purchase by id alone, in any organization (operators' command line, the webhook receiver). */
export async function findPurchase(sql: Query, purchaseId: string): Promise<PurchaseRow | null> {
  const [row] = await sql<PurchaseRow[]>`select * from purchases where id = ${purchaseId}`;
  return row ?? null;
}

/** The purchase a customer's checkout Idempotency-Key made, if any (the key is unique per customer). */
export async function findPurchaseByIdempotencyKey(
  sql: Sql,
  key: { organizationId: string; customerId: string; idempotencyKey: string },
): Promise<PurchaseRow | null> {
  const [row] = await sql<PurchaseRow[]>`
    select * from purchases
     where organization_id = ${key.organizationId} and customer_id = ${key.customerId}
       and idempotency_key = ${key.idempotencyKey}`;
  return row ?? null;
}

/** The purchase that holds a Stripe SetupIntent or PaymentIntent (unique per purchase). */
export async function findPurchaseByStripeObject(
  sql: Query,
  object: { kind: 'setup_intent' | 'payment_intent'; id: string },
  scope: { organizationId: string; customerId: string } | null = null,
): Promise<PurchaseRow | null> {
  const column = object.kind === 'setup_intent' ? 'stripe_setup_intent_id' : 'stripe_payment_intent_id';
  const [row] = await sql<PurchaseRow[]>`
    select * from purchases
     where ${sql(column)} = ${object.id}
       ${scope ? sql`and organization_id = ${scope.organizationId} and customer_id = ${scope.customerId}` : sql``}`;
  return row ?? null;
}

export interface NewPurchase {
  id: string;
  organizationId: string;
  customerId: string;
  creditPackId: string;
  quantity: number;
  unitCredits: number;
  unitPriceCents: number;
  /** the pack's name at checkout (the receipt's line) */
  packName: string;
  idempotencyKey: string;
  requestHash: string;
  workflowId: string;
  trigger: PurchaseTrigger;
}

/**
 * Records a checkout (status `pending`, totals = quantity × the pack's snapshot). Returns null when a
 * purchase already holds the customer's idempotency key: of two identical checkouts racing, one
 * inserts and the other reads the winner.
 */
export async function insertPurchase(sql: Sql, purchase: NewPurchase): Promise<PurchaseRow | null> {
  const [inserted] = await sql<PurchaseRow[]>`
    insert into purchases (
      id, organization_id, customer_id, credit_pack_id, quantity, unit_credits, unit_price_cents,
      credits, price_cents, currency, status, idempotency_key, request_hash, workflow_id, trigger, pack_name)
    values (
      ${purchase.id}, ${purchase.organizationId}, ${purchase.customerId}, ${purchase.creditPackId},
      ${purchase.quantity}, ${purchase.unitCredits}, ${purchase.unitPriceCents},
      ${purchase.unitCredits * purchase.quantity}, ${purchase.unitPriceCents * purchase.quantity}, 'usd',
      'pending', ${purchase.idempotencyKey}, ${purchase.requestHash}, ${purchase.workflowId}, ${purchase.trigger},
      ${purchase.packName})
    on conflict (organization_id, customer_id, idempotency_key) do nothing
    returning *`;
  return inserted ?? null;
}

/**
 * Purchases recorded at checkout and still `pending`, older than `olderThanMs`: the candidates of the
 * sweep that starts forgotten workflows (it skips those whose workflow exists). Oldest first, bounded.
 */
export async function listUnstartedPurchases(
  sql: Sql,
  { olderThanMs, organizationId, limit }: { olderThanMs: number; organizationId?: string; limit: number },
): Promise<PurchaseRow[]> {
  return sql<PurchaseRow[]>`
    select * from purchases
     where status = 'pending'
       and created_at < now() - ${`${olderThanMs} milliseconds`}::interval
       ${organizationId ? sql`and organization_id = ${organizationId}` : sql``}
     order by created_at
     limit ${limit}`;
}

/** What the eligibility activity needs of a purchase: its ids, its snapshot, its customer's deletion. */
export interface PurchaseForEligibility {
  organizationId: string;
  customerId: string;
  creditPackId: string;
  credits: number;
  priceCents: number;
  currency: 'usd';
  customerDeletedAt: Date | null;
}

export async function getPurchaseForEligibility(
  sql: Sql,
  purchaseId: string,
): Promise<PurchaseForEligibility | null> {
  const [purchase] = await sql<PurchaseForEligibility[]>`
    select p.organization_id as "organizationId", p.customer_id as "customerId",
           p.credit_pack_id as "creditPackId", p.credits, p.price_cents as "priceCents", p.currency,
           c.deleted_at as "customerDeletedAt"
      from purchases p
      join customers c on c.organization_id = p.organization_id and c.id = p.customer_id
     where p.id = ${purchaseId}`;
  return purchase ?? null;
}

/**
 * The channel migration 00017's trigger NOTIFYs, with the purchase id as payload, whenever a purchase's
 * status changes (delivered at commit). src/purchases/purchase-changes.ts listens on it.
 */
export const PURCHASE_STATUS_CHANNEL = 'credit_pack_purchase_status';
