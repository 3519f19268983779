import { readCustomersWithTopUpsInFlight, readUsageOverdrafts } from '../db/auto-top-up-queries';
import type { Query } from '../db/client';
import type { InvariantScope } from '../db/invariant-queries';

/**
 * Usage and auto top-ups (docs/invariants.md): `one_auto_top_up_in_flight`, at most one auto top-up
 * purchase of a customer is in flight at once; `usage_within_balance`, no usage took a customer's
 * credits below zero. Shaped like the checker's violations (index.ts).
 */
export async function autoTopUpViolations(
  sql: Query,
  options: InvariantScope,
): Promise<
  {
    invariant: 'one_auto_top_up_in_flight' | 'usage_within_balance';
    organizationId: string;
    customerId: string;
    purchaseId: string | null;
    message: string;
  }[]
> {
  const found = [];
  for (const c of await readCustomersWithTopUpsInFlight(sql, options)) {
    found.push({
      invariant: 'one_auto_top_up_in_flight' as const,
      organizationId: c.organizationId,
      customerId: c.customerId,
      purchaseId: c.purchaseIds[1] ?? null,
      message: `${c.customerId}: ${c.purchaseIds.length} auto top-ups in flight at once (${c.purchaseIds.join(', ')})`,
    });
  }
  for (const o of await readUsageOverdrafts(sql, options)) {
    found.push({
      invariant: 'usage_within_balance' as const,
      organizationId: o.organizationId,
      customerId: o.customerId,
      purchaseId: null,
      message: `${o.customerId}: usage (ledger entry ${o.ledgerEntryId}) left ${o.runningTotal} credits`,
    });
  }
  return found;
}
