import { inFlightPurchaseStatuses } from '../domain/purchase-states';
import type { Query } from './client';
import type { InvariantScope } from './invariant-queries';

/**
 * The invariant checker's reads about usage and auto top-ups (src/invariants/auto-top-ups.ts):
 * read-only, scoped like the others, runnable inside a transaction.
 */

/** Customers with more than one auto top-up purchase in flight at once (the partial unique index forbids it). */
export async function readCustomersWithTopUpsInFlight(
  sql: Query,
  options: InvariantScope,
): Promise<{ organizationId: string; customerId: string; purchaseIds: string[] }[]> {
  return sql`
    select organization_id as "organizationId", customer_id as "customerId",
           array_agg(id order by created_at) as "purchaseIds"
      from purchases
     where trigger = 'auto_top_up' and status = any(${[...inFlightPurchaseStatuses]})
       ${options.organizationId ? sql`and organization_id = ${options.organizationId}` : sql``}
       ${options.since ? sql`and created_at >= ${options.since}` : sql``}
     group by organization_id, customer_id
    having count(*) > 1`;
}

/**
 * Usage entries that took a customer's credits below zero: the running sum of the customer's ledger in
 * the order entries were written, leaving out what refunds and disputes take back or give back (they
 * may run beside a usage and legitimately leave a debt; a usage is checked against a total that
 * already included every earlier one, so without them the running sum after a usage is never lower).
 * Answers each customer's lowest such point.
 */
export async function readUsageOverdrafts(
  sql: Query,
  options: InvariantScope,
): Promise<{ organizationId: string; customerId: string; ledgerEntryId: number; runningTotal: number }[]> {
  return sql`
    with running as (
      select l.organization_id, l.customer_id, l.id, l.kind,
             sum(case when l.kind in ('reversal', 'reversal_restore', 'dispute_hold', 'dispute_release')
                      then 0 else l.credits end)
               over (partition by l.organization_id, l.customer_id order by l.id) as total
        from credit_ledger l
        join customers c on c.organization_id = l.organization_id and c.id = l.customer_id
       where true
         ${options.organizationId ? sql`and l.organization_id = ${options.organizationId}` : sql``}
         ${options.since ? sql`and c.created_at >= ${options.since}` : sql``}
         ${
           options.onlyCheckoutPurchases
             ? sql`and not exists (select 1 from purchases p
                                    where p.customer_id = c.id and p.workflow_id is null)`
             : sql``
         }
    )
    select distinct on (organization_id, customer_id)
           organization_id as "organizationId", customer_id as "customerId",
           id as "ledgerEntryId", total::bigint as "runningTotal"
      from running
     where kind = 'usage' and total < 0
     order by organization_id, customer_id, total, id`;
}
