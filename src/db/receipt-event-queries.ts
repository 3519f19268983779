import type { Query } from './client';

/**
 * For the invariant checker (src/invariants/receipts-events.ts): per purchase in scope, whether it
 * ever reached `completed` (its transition log says so), and how many receipts and
 * `purchase.completed` events it has. Read-only.
 */
export interface CompletionRecords {
  id: string;
  organizationId: string;
  customerId: string;
  status: string;
  completed: boolean;
  receipts: number;
  completedEvents: number;
}

export async function readCompletionRecords(
  sql: Query,
  options: { organizationId?: string; since?: Date; onlyCheckoutPurchases?: boolean },
): Promise<CompletionRecords[]> {
  return sql<CompletionRecords[]>`
    select p.id, p.organization_id as "organizationId", p.customer_id as "customerId", p.status,
           exists (select 1 from purchase_transitions t where t.purchase_id = p.id and t.to_status = 'completed') as completed,
           (select count(*) from receipts r where r.purchase_id = p.id)::int as receipts,
           (select count(*) from events e where e.purchase_id = p.id and e.type = 'purchase.completed')::int as "completedEvents"
      from purchases p
     where (${options.organizationId ?? null}::text is null or p.organization_id = ${options.organizationId ?? null})
       and (${options.since ?? null}::timestamptz is null or p.created_at >= ${options.since ?? null})
       and (not ${options.onlyCheckoutPurchases ?? false} or p.workflow_id is not null)
     order by p.created_at`;
}
