import { AppError } from '../domain/errors';
import type { EventType } from '../domain/events';
import type { Sql } from './client';
import { newId, randomBase62 } from './ids';

/** An organization's webhook endpoints (migration 00010). Every query is scoped by organization. */

export interface WebhookEndpointRow {
  id: string;
  organization_id: string;
  url: string;
  event_types: EventType[];
  secret: string;
  created_at: Date;
  deleted_at: Date | null;
}

/** An endpoint as GET lists it (the secret is shown once, at creation). */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: EventType[];
  createdAt: string;
}

export const toWebhookEndpoint = (r: WebhookEndpointRow): WebhookEndpoint => ({
  id: r.id,
  url: r.url,
  events: r.event_types,
  createdAt: r.created_at.toISOString(),
});

const notFound = (id: string) => new AppError('webhook_endpoint_not_found', `No webhook endpoint ${id}.`);

export async function createWebhookEndpoint(
  sql: Sql,
  organizationId: string,
  input: { url: string; events: readonly EventType[] },
): Promise<WebhookEndpoint & { secret: string }> {
  const [row] = await sql<WebhookEndpointRow[]>`
    insert into webhook_endpoints (id, organization_id, url, event_types, secret)
    values (${newId('webhookEndpoint')}, ${organizationId}, ${input.url}, ${input.events as string[]},
            ${`whsec_${randomBase62(32)}`})
    returning *`;
  if (!row) throw new Error('insert into webhook_endpoints returned no row');
  return { ...toWebhookEndpoint(row), secret: row.secret };
}

/** The organization's endpoints (deleted ones left out), oldest first. */
export async function listWebhookEndpoints(sql: Sql, organizationId: string): Promise<WebhookEndpoint[]> {
  const rows = await sql<WebhookEndpointRow[]>`
    select * from webhook_endpoints
     where organization_id = ${organizationId} and deleted_at is null
     order by created_at, id`;
  return rows.map(toWebhookEndpoint);
}

/**
 * Deletes an endpoint: it receives nothing more, and its pending deliveries are marked canceled in the
 * same transaction (each delivery's next attempt finds that and sends nothing). Returns the events
 * whose deliveries were pending, so the caller can stop their workflows at once.
 */
export async function deleteWebhookEndpoint(
  sql: Sql,
  organizationId: string,
  id: string,
): Promise<{ canceledEventIds: string[] }> {
  return sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      update webhook_endpoints set deleted_at = now()
       where organization_id = ${organizationId} and id = ${id} and deleted_at is null
      returning id`;
    if (!row) throw notFound(id);
    const canceled = await tx<{ event_id: string }[]>`
      update event_deliveries set status = 'canceled'
       where endpoint_id = ${id} and status = 'pending'
      returning event_id`;
    return { canceledEventIds: canceled.map((c) => c.event_id) };
  });
}
