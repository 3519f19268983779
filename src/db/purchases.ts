import { AppError } from '../domain/errors';
import type { NextAction, PurchaseStatus } from '../domain/purchase-states';
import type { Sql } from './client';

/** Read side of purchases and balances (the checkout and the workflow write them; later issues). */

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
  createdAt: string;
  updatedAt: string;
}

export interface AdminPurchase extends Purchase {
  customerId: string;
}

export interface PurchaseRow {
  id: string;
  organization_id: string;
  customer_id: string;
  credit_pack_id: string;
  quantity: number;
  credits: number;
  price_cents: number;
  currency: 'usd';
  status: PurchaseStatus;
  next_action: NextAction | null;
  failure_code: string | null;
  failure_message: string | null;
  created_at: Date;
  updated_at: Date;
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
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const toAdminPurchase = (r: PurchaseRow): AdminPurchase => ({
  ...toPurchase(r),
  customerId: r.customer_id,
});

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
     limit ${filter.limit ?? 100}`;
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
  const [row] = await sql<
    { plan_credits: bigint | number; purchased_credits: bigint | number; total_credits: bigint | number }[]
  >`
    select plan_credits, purchased_credits, total_credits from credit_balances
     where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
  if (!row) return { planCredits: 0, purchasedCredits: 0, total: 0 };
  return {
    planCredits: Number(row.plan_credits),
    purchasedCredits: Number(row.purchased_credits),
    total: Number(row.total_credits),
  };
}
