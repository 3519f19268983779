import type { Query, Sql } from './client';
import { findPurchase, findPurchaseByStripeObject, type PurchaseRow } from './purchases';

/**
 * The webhook receiver's record of Stripe events (migration 00006): one row per event id, written
 * before the event is acted on, in the transaction that also records what was done.
 */

export type StripeEventOutcome =
  | 'received'
  | 'signaled'
  | 'ignored'
  | 'unmatched'
  | 'purchase_settled'
  | 'workflow_closed'
  | 'credits_reversed'
  | 'partial_refund_review'
  | 'refunds_synced'
  | 'dispute_opened'
  | 'dispute_closed';

export interface StripeEventRecord {
  id: string;
  type: string;
  created: number;
  livemode: boolean;
  objectId: string | null;
  payload: unknown;
}

/**
 * Claims an event id inside `tx`: the first delivery inserts it (and holds its row lock until the
 * transaction ends, so a concurrent duplicate waits and then sees it); a later one only counts a delivery.
 * Returns whether this delivery is the first.
 */
export async function claimStripeEvent(tx: Query, event: StripeEventRecord): Promise<{ first: boolean }> {
  const [row] = await tx<{ first: boolean }[]>`
    insert into stripe_events (id, type, event_created_at, livemode, object_id, payload)
    values (${event.id}, ${event.type}, to_timestamp(${event.created}), ${event.livemode}, ${event.objectId},
            ${tx.json(event.payload as Parameters<Sql['json']>[0])})
    on conflict (id) do update
      set deliveries = stripe_events.deliveries + 1, last_received_at = now()
    returning (xmax = 0) as first`;
  return { first: row?.first === true };
}

export async function recordStripeEventOutcome(
  tx: Query,
  eventId: string,
  outcome: StripeEventOutcome,
  purchaseId: string | null,
): Promise<void> {
  await tx`update stripe_events set outcome = ${outcome}, purchase_id = ${purchaseId} where id = ${eventId}`;
}

/**
 * The purchase an event's object belongs to: `metadata.purchase_id` (checked against
 * `metadata.organization_id` when present), else the purchase that holds the Stripe object's id.
 */
export async function findPurchaseForStripeObject(
  sql: Query,
  object: {
    id: string | null;
    metadata: Record<string, string> | null;
    kind: 'setup_intent' | 'payment_intent';
  },
): Promise<PurchaseRow | null> {
  const purchaseId = object.metadata?.purchase_id;
  if (purchaseId) {
    const row = await findPurchase(sql, purchaseId);
    const organizationId = object.metadata?.organization_id;
    if (row && (!organizationId || organizationId === row.organization_id)) return row;
  }
  if (!object.id) return null;
  return findPurchaseByStripeObject(sql, { kind: object.kind, id: object.id });
}
