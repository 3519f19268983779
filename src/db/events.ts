import type { EventType } from '../domain/events';
import type { Query, Sql } from './client';
import { type AdminPurchase, type PurchaseRow, toAdminPurchase } from './purchases';

/**
 * The `events` outbox and its `event_deliveries` (migration 00010). Events are written by the
 * database's trigger on purchases, in the transaction of the change they record; this module reads
 * them, renders them as the API shows and delivers them, and keeps each delivery's bookkeeping.
 */

export interface EventRow {
  id: string;
  seq: number;
  organization_id: string;
  type: EventType;
  purchase_id: string | null;
  customer_id: string | null;
  /** the purchases row right after the transition, as to_jsonb wrote it (timestamps as strings) */
  purchase_row: Record<string, unknown> | null;
  data: Record<string, unknown> | null;
  created_at: Date;
}

/** An event as GET /v1/events lists it and as it is delivered (docs/api.md). */
export interface ApiEvent {
  id: string;
  type: EventType;
  createdAt: string;
  data: { purchase: AdminPurchase } | Record<string, unknown>;
}

const TIMESTAMP_COLUMNS = ['created_at', 'updated_at'] as const;

/** The purchases row of a snapshot, typed as postgres.js would have read it. */
export function purchaseRowOfSnapshot(snapshot: Record<string, unknown>): PurchaseRow {
  const row = { ...snapshot } as Record<string, unknown>;
  for (const column of TIMESTAMP_COLUMNS) row[column] = new Date(String(snapshot[column]));
  return row as unknown as PurchaseRow;
}

export const toApiEvent = (r: EventRow): ApiEvent => ({
  id: r.id,
  type: r.type,
  createdAt: r.created_at.toISOString(),
  data: r.purchase_row
    ? { purchase: toAdminPurchase(purchaseRowOfSnapshot(r.purchase_row)) }
    : (r.data ?? {}),
});

export const EVENT_LIST_DEFAULT_LIMIT = 100;

/** The organization's events, newest first. */
export async function listEvents(
  sql: Sql,
  organizationId: string,
  filter: { type?: EventType | undefined; purchaseId?: string | undefined; limit?: number | undefined },
): Promise<EventRow[]> {
  return sql<EventRow[]>`
    select * from events
     where organization_id = ${organizationId}
       ${filter.type ? sql`and type = ${filter.type}` : sql``}
       ${filter.purchaseId ? sql`and purchase_id = ${filter.purchaseId}` : sql``}
     order by seq desc
     limit ${filter.limit ?? EVENT_LIST_DEFAULT_LIMIT}`;
}

// ── Deliveries ────────────────────────────────────────────────────────────────────────────────────────

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'canceled';

export interface DeliveryRow {
  event_id: string;
  endpoint_id: string;
  organization_id: string;
  status: DeliveryStatus;
  workflow_started_at: Date | null;
  attempts: number;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** Deliveries whose workflow is not started yet, oldest first (optionally of some organizations only). */
export async function listUnstartedDeliveries(
  sql: Sql,
  { limit, organizationIds }: { limit: number; organizationIds?: readonly string[] | undefined },
): Promise<DeliveryRow[]> {
  if (organizationIds && organizationIds.length === 0) return [];
  return sql<DeliveryRow[]>`
    select * from event_deliveries
     where workflow_started_at is null
       ${organizationIds ? sql`and organization_id in ${sql(organizationIds as string[])}` : sql``}
     order by created_at
     limit ${limit}`;
}

export async function markDeliveryStarted(sql: Sql, ids: { eventId: string; endpointId: string }) {
  await sql`
    update event_deliveries set workflow_started_at = coalesce(workflow_started_at, now())
     where event_id = ${ids.eventId} and endpoint_id = ${ids.endpointId}`;
}

/** What one attempt needs: the delivery, its event and its endpoint (null when the delivery is unknown). */
export interface DeliveryJob {
  delivery: DeliveryRow;
  event: EventRow;
  endpoint: { id: string; url: string; secret: string; deleted: boolean };
}

export async function loadDeliveryJob(
  sql: Query,
  ids: { eventId: string; endpointId: string },
): Promise<DeliveryJob | null> {
  const [delivery] = await sql<DeliveryRow[]>`
    select * from event_deliveries where event_id = ${ids.eventId} and endpoint_id = ${ids.endpointId}`;
  if (!delivery) return null;
  const [event] = await sql<EventRow[]>`select * from events where id = ${ids.eventId}`;
  const [endpoint] = await sql<{ id: string; url: string; secret: string; deleted: boolean }[]>`
    select id, url, secret, deleted_at is not null as deleted from webhook_endpoints where id = ${ids.endpointId}`;
  if (!event || !endpoint) return null;
  return { delivery, event, endpoint };
}

/** One attempt's outcome: counted, and the delivery settled when it was accepted. */
export async function recordDeliveryAttempt(
  sql: Sql,
  ids: { eventId: string; endpointId: string },
  attempt: { statusCode: number | null; error: string | null; delivered: boolean },
): Promise<void> {
  await sql`
    update event_deliveries set
      attempts = attempts + 1,
      last_attempt_at = now(),
      last_status_code = ${attempt.statusCode},
      last_error = ${attempt.error === null ? null : attempt.error.slice(0, 500)},
      status = case when ${attempt.delivered} and status = 'pending' then 'delivered' else status end,
      delivered_at = case when ${attempt.delivered} and status = 'pending' then now() else delivered_at end
     where event_id = ${ids.eventId} and endpoint_id = ${ids.endpointId}`;
}

/** A pending delivery given up (retry window over) or stopped (its endpoint deleted). */
export async function settleDelivery(
  sql: Query,
  ids: { eventId: string; endpointId: string },
  status: 'failed' | 'canceled',
): Promise<void> {
  await sql`
    update event_deliveries set status = ${status}
     where event_id = ${ids.eventId} and endpoint_id = ${ids.endpointId} and status = 'pending'`;
}
