import type { Query } from '../db/client';
import { readCompletionRecords } from '../db/receipt-event-queries';

/**
 * `completion_recorded` (docs/invariants.md): a purchase that reached `completed` (refunded
 * afterwards or not) has exactly one receipt and exactly one `purchase.completed` event; a purchase that
 * never did has neither. Both are written by the database in the completing transaction (migrations
 * 00010, 00011), so any finding is a bug. Shaped like the checker's violations (index.ts).
 */
export async function receiptAndEventViolations(
  sql: Query,
  options: { organizationId?: string; since?: Date; onlyCheckoutPurchases?: boolean },
): Promise<
  {
    invariant: 'completion_recorded';
    organizationId: string;
    customerId: string;
    purchaseId: string;
    message: string;
  }[]
> {
  const found = [];
  for (const p of await readCompletionRecords(sql, options)) {
    const want = p.completed ? 1 : 0;
    if (p.receipts === want && p.completedEvents === want) continue;
    found.push({
      invariant: 'completion_recorded' as const,
      organizationId: p.organizationId,
      customerId: p.customerId,
      purchaseId: p.id,
      message: `${p.id} (${p.status}): ${p.completed ? 'completed' : 'never completed'}, yet ${p.receipts} receipt(s) and ${p.completedEvents} purchase.completed event(s)`,
    });
  }
  return found;
}
