import type { Client } from '@temporalio/client';
import type { Sql } from '../db/client';
import { findPurchase, type PurchaseRow } from '../db/purchases';
import { type PurchaseState, purchaseStatusQuery, purchaseWorkflowId } from '../workflows';

/**
 * A purchase as both records see it: its row (the business record) and its workflow's own state (the
 * status query), or why the workflow could not be asked. Null when no purchase has this id.
 */
export async function findPurchaseWithWorkflow(
  deps: { sql: Sql; client: Client },
  purchaseId: string,
): Promise<{ purchase: PurchaseRow; workflow: PurchaseState | { unavailable: string } } | null> {
  const purchase = await findPurchase(deps.sql, purchaseId);
  if (!purchase) return null;
  const workflow = await deps.client.workflow
    .getHandle(purchaseWorkflowId(purchase.id))
    .query(purchaseStatusQuery)
    .catch((error: Error) => ({ unavailable: error.message }));
  return { purchase, workflow };
}
