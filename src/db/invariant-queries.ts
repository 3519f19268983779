import type { PurchaseStatus } from '../domain/purchase-states';
import type { Query } from './client';

/**
 * The money invariant checker's reads (src/invariants): read-only, scoped by organization and creation
 * time, runnable inside a transaction (the tests judge uncommitted state too).
 */

export interface InvariantScope {
  organizationId?: string;
  since?: Date;
  /** Only purchases recorded by checkout (they carry a workflow id), and customers with no other kind. */
  onlyCheckoutPurchases?: boolean;
}

/** One purchase with its ledger entries summed: grants, granted and reversed credits. */
export interface PurchaseLedgerFacts {
  id: string;
  organizationId: string;
  customerId: string;
  status: PurchaseStatus;
  credits: number;
  priceCents: number;
  currency: string;
  stripePaymentIntentId: string | null;
  stripeCustomerId: string | null;
  updatedAt: Date;
  createdAt: Date;
  ageMs: number;
  grants: number;
  grantedCredits: number;
  /** credits taken back, net: reversals and dispute holds, less restores and releases */
  reversedCredits: number;
  refundedAmountCents: number;
  creditsReversedByRefunds: number;
  disputeCreditsHeld: number;
  partialRefundReview: boolean;
}

export async function readPurchaseLedgerFacts(
  sql: Query,
  options: InvariantScope,
  now: Date,
): Promise<PurchaseLedgerFacts[]> {
  return await sql<PurchaseLedgerFacts[]>`
    select p.id, p.organization_id as "organizationId", p.customer_id as "customerId", p.status,
           p.credits, p.price_cents as "priceCents", p.currency,
           p.stripe_payment_intent_id as "stripePaymentIntentId",
           c.stripe_customer_id as "stripeCustomerId",
           p.updated_at as "updatedAt",
           p.created_at as "createdAt",
           (extract(epoch from (${now}::timestamptz - p.created_at)) * 1000)::bigint as "ageMs",
           coalesce(l.grants, 0)::int as grants,
           coalesce(l.granted, 0)::bigint as "grantedCredits",
           coalesce(l.reversed, 0)::bigint as "reversedCredits",
           p.refunded_amount_cents as "refundedAmountCents",
           p.credits_reversed_by_refunds as "creditsReversedByRefunds",
           p.dispute_credits_held as "disputeCreditsHeld",
           exists (select 1 from stripe_events e
                    where e.purchase_id = p.id and e.outcome = 'partial_refund_review') as "partialRefundReview"
      from purchases p
      join customers c on c.organization_id = p.organization_id and c.id = p.customer_id
      left join (
        select purchase_id,
               count(*) filter (where kind = 'purchase_grant') as grants,
               sum(credits) filter (where kind = 'purchase_grant') as granted,
               -sum(credits) filter (where kind in ('reversal', 'reversal_restore', 'dispute_hold', 'dispute_release')) as reversed
          from credit_ledger where purchase_id is not null
         group by purchase_id
      ) l on l.purchase_id = p.id
     where (${options.organizationId ?? null}::text is null or p.organization_id = ${options.organizationId ?? null})
       and (${options.since ?? null}::timestamptz is null or p.created_at >= ${options.since ?? null})
       and (not ${options.onlyCheckoutPurchases ?? false} or p.workflow_id is not null)
     order by p.created_at`;
}

/** Per customer: purchase grants net of reversals, completed purchases' credits, the ledger and the balance view. */
export interface CustomerTotals {
  organizationId: string;
  customerId: string;
  netPurchaseCredits: number;
  completedCredits: number;
  ledgerPlan: number;
  ledgerPurchased: number;
  /** purchased-bucket entries tied to no purchase (usage): with completedCredits, the purchased balance */
  ledgerPurchasedOther: number;
  viewPlan: number | null;
  viewPurchased: number | null;
  viewTotal: number | null;
}

export async function readCustomerTotals(sql: Query, options: InvariantScope): Promise<CustomerTotals[]> {
  return sql<CustomerTotals[]>`
    select c.organization_id as "organizationId", c.id as "customerId",
           coalesce((select sum(credits) from credit_ledger l
                      where l.organization_id = c.organization_id and l.customer_id = c.id and l.purchase_id is not null
                        and l.kind in ('purchase_grant', 'reversal', 'reversal_restore', 'dispute_hold', 'dispute_release')), 0)::bigint as "netPurchaseCredits",
           coalesce((select sum(p.credits - p.credits_reversed_by_refunds - p.dispute_credits_held) from purchases p
                      where p.customer_id = c.id
                        and (p.status = 'completed' or (p.status = 'refunded' and p.credits_reversed_by_refunds > 0))), 0)::bigint as "completedCredits",
           coalesce((select sum(credits) from credit_ledger l
                      where l.organization_id = c.organization_id and l.customer_id = c.id and l.bucket = 'plan'), 0)::bigint as "ledgerPlan",
           coalesce((select sum(credits) from credit_ledger l
                      where l.organization_id = c.organization_id and l.customer_id = c.id and l.bucket = 'purchased'), 0)::bigint as "ledgerPurchased",
           coalesce((select sum(credits) from credit_ledger l
                      where l.organization_id = c.organization_id and l.customer_id = c.id and l.bucket = 'purchased'
                        and l.purchase_id is null), 0)::bigint as "ledgerPurchasedOther",
           b.plan_credits as "viewPlan", b.purchased_credits as "viewPurchased", b.total_credits as "viewTotal"
      from customers c
      left join credit_balances b on b.organization_id = c.organization_id and b.customer_id = c.id
     where (${options.organizationId ?? null}::text is null or c.organization_id = ${options.organizationId ?? null})
       and (${options.since ?? null}::timestamptz is null or c.created_at >= ${options.since ?? null})
       and (not ${options.onlyCheckoutPurchases ?? false}
            or not exists (select 1 from purchases p where p.customer_id = c.id and p.workflow_id is null))`;
}

/** The current updated_at of some purchases (to drop findings about those that changed mid-check). */
export async function purchasesUpdatedAt(
  sql: Query,
  ids: string[],
): Promise<{ id: string; updatedAt: Date }[]> {
  return sql<{ id: string; updatedAt: Date }[]>`
    select id, updated_at as "updatedAt" from purchases where id = any(${ids})`;
}

/** Which of these purchases and organizations exist (whatever the checked scope). */
export async function knownPurchasesAndOrganizations(
  sql: Query,
  ids: { purchaseIds: string[]; organizationIds: string[] },
): Promise<{ purchaseIds: Set<string>; organizationIds: Set<string> }> {
  const purchases = await sql<{ id: string }[]>`select id from purchases where id = any(${ids.purchaseIds})`;
  const organizations = await sql<{ id: string }[]>`
    select id from organizations where id = any(${ids.organizationIds})`;
  return {
    purchaseIds: new Set(purchases.map((p) => p.id)),
    organizationIds: new Set(organizations.map((o) => o.id)),
  };
}
