import type { Sql } from '../db/client';
import { getCustomerPurchase, type PurchaseRow } from '../db/purchases';
import type { PurchaseStatus } from '../domain/purchase-states';
import type { PurchaseChanges } from './purchase-changes';

/** Statuses in which the purchase is busy on its own (nothing to show the customer yet). */
const busyStatuses: readonly PurchaseStatus[] = ['pending', 'charging', 'crediting'];
/**
 * While waiting, the row is re-read when its status changes (a NOTIFY, see ./purchase-changes) and at
 * least this often anyway: a notification lost while the listener reconnects delays the answer by at
 * most this much.
 */
export const PURCHASE_REREAD_INTERVAL_MS = 750;

/**
 * Reads the purchase for an answer: waits, bounded by `waitMs`, while it is busy on its own (pending,
 * charging, crediting) or until `until` holds, so the answer usually carries the next action (add a
 * card, authenticate) or the outcome. Clients poll GET /v1/portal/purchases/{id} from there.
 *
 * The row is read at once, again whenever the purchase's status changes (woken by `purchaseChanges`),
 * every PURCHASE_REREAD_INTERVAL_MS in any case, and once more at the deadline, whose row is the answer.
 */
export async function waitForPurchase(
  deps: { sql: Sql; purchaseChanges: PurchaseChanges },
  ids: { organizationId: string; customerId?: string; purchaseId: string },
  waitMs: number,
  until: (row: PurchaseRow) => boolean = (row) => !busyStatuses.includes(row.status),
): Promise<PurchaseRow> {
  const deadline = Date.now() + waitMs;
  // Subscribed before the first read: a change committed between a read and the wait after it still
  // wakes that wait.
  const changes = deps.purchaseChanges.subscribe(ids.purchaseId);
  try {
    for (;;) {
      const row = await getCustomerPurchase(deps.sql, ids);
      if (until(row) || Date.now() >= deadline) return row;
      await changes.next(Math.min(PURCHASE_REREAD_INTERVAL_MS, deadline - Date.now()));
    }
  } finally {
    changes.unsubscribe();
  }
}
