import { AppError } from '../domain/errors';
import type { Sql } from './client';
import { getCustomerPurchase, type PurchaseRow } from './purchases';
import { listRefunds, type RefundRow } from './refunds';

/**
 * Receipts (migration 00011): one per purchase that reached `completed`, numbered per organization by
 * the database's trigger when it did. This module reads them with what they show.
 */

export interface ReceiptRow {
  purchase_id: string;
  organization_id: string;
  number: number;
  issued_at: Date;
  card_brand: string | null;
  card_last4: string | null;
}

/** What a receipt shows: its row, the purchase, its refunds, who sold and who bought. */
export interface ReceiptFacts {
  receipt: ReceiptRow;
  purchase: PurchaseRow;
  refunds: RefundRow[];
  organizationName: string;
  customer: { name: string; email: string };
}

/**
 * The receipt of one purchase of the organization (of one customer, on portal routes): 404
 * purchase_not_found for a purchase not theirs, 404 receipt_not_found for one that never completed.
 */
export async function getReceiptFacts(
  sql: Sql,
  ids: { organizationId: string; customerId?: string | undefined; purchaseId: string },
): Promise<ReceiptFacts> {
  const purchase = await getCustomerPurchase(sql, ids);
  const [receipt] = await sql<ReceiptRow[]>`select * from receipts where purchase_id = ${purchase.id}`;
  if (!receipt) {
    throw new AppError(
      'receipt_not_found',
      `Purchase ${purchase.id} has no receipt: only a purchase that completed has one.`,
    );
  }
  const [names] = await sql<{ organization_name: string; customer_name: string; customer_email: string }[]>`
    select o.name as organization_name, c.name as customer_name, c.email as customer_email
      from organizations o join customers c on c.organization_id = o.id
     where o.id = ${purchase.organization_id} and c.id = ${purchase.customer_id}`;
  const refunds = await listRefunds(sql, {
    organizationId: purchase.organization_id,
    purchaseId: purchase.id,
  });
  return {
    receipt,
    purchase,
    refunds,
    organizationName: names?.organization_name ?? '',
    customer: { name: names?.customer_name ?? '', email: names?.customer_email ?? '' },
  };
}

/** The card charged, once read from Stripe (the first writer wins). */
export async function recordReceiptCard(
  sql: Sql,
  purchaseId: string,
  card: { brand: string; last4: string },
): Promise<void> {
  await sql`
    update receipts set card_brand = ${card.brand.slice(0, 50)}, card_last4 = ${card.last4}
     where purchase_id = ${purchaseId} and card_brand is null`;
}
