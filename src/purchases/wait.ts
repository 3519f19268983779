import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from '../db/client';
import { getCustomerPurchase, type PurchaseRow } from '../db/purchases';
import type { PurchaseStatus } from '../domain/purchase-states';

/** Statuses in which the purchase is busy on its own (nothing to show the customer yet). */
const busyStatuses: readonly PurchaseStatus[] = ['pending', 'charging', 'crediting'];
/** How often the row is re-read while waiting. */
const POLL_INTERVAL_MS = 50;

/**
 * Reads the purchase for an answer: waits, bounded by `waitMs`, while it is busy on its own (pending,
 * charging, crediting) or until `until` holds, so the answer usually carries the next action (add a
 * card, authenticate) or the outcome. Clients poll GET /v1/portal/purchases/{id} from there.
 */
export async function waitForPurchase(
  sql: Sql,
  ids: { organizationId: string; customerId?: string; purchaseId: string },
  waitMs: number,
  until: (row: PurchaseRow) => boolean = (row) => !busyStatuses.includes(row.status),
): Promise<PurchaseRow> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await getCustomerPurchase(sql, ids);
    if (until(row) || Date.now() >= deadline) return row;
    await sleep(POLL_INTERVAL_MS);
  }
}
