import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { listUnstartedDeliveries, markDeliveryStarted } from '../db/events';
import { deleteWebhookEndpoint } from '../db/webhook-endpoints';
import {
  DELIVERY_MAX_RETRY_INTERVAL_MS,
  DELIVERY_RETRY_WINDOW_MS,
  eventDeliveryWorkflowId,
} from '../domain/events';
import { startWorkflowOnce } from '../temporal/start-once';
import { type EventDeliveryInput, eventDeliveryWorkflow } from '../workflows';
import type { PurchaseLog } from './errors';

/**
 * The outbox's relay: event deliveries recorded by the database (one per event and endpoint, in the
 * event's transaction) become delivery workflows on EVENT_DELIVERY_TASK_QUEUE. Started under an id
 * derived from the event and the endpoint, so a second start (another dispatcher, a retry after a
 * crash between the start and its bookkeeping) finds the first: one delivery per endpoint and event.
 */

export interface DispatchDeps {
  sql: Sql;
  client: Client;
  config: Pick<Config, 'EVENT_DELIVERY_TASK_QUEUE' | 'EVENT_DELIVERY_RETRY_BASE_MS'>;
}

/** Deliveries started per pass, and in parallel. */
const DISPATCH_BATCH = 200;
const DISPATCH_PARALLEL = 20;

export function deliveryRetry(config: DispatchDeps['config']): EventDeliveryInput['retry'] {
  return {
    initialIntervalMs: config.EVENT_DELIVERY_RETRY_BASE_MS,
    maximumIntervalMs: DELIVERY_MAX_RETRY_INTERVAL_MS,
    windowMs: DELIVERY_RETRY_WINDOW_MS,
  };
}

/**
 * Starts the workflows of the deliveries not started yet (all, or some organizations' only: a test
 * environment's), until none is left. Returns how many it started.
 */
export async function dispatchEventDeliveries(
  { sql, client, config }: DispatchDeps,
  { organizationIds }: { organizationIds?: readonly string[] } = {},
): Promise<number> {
  let started = 0;
  for (;;) {
    const batch = await listUnstartedDeliveries(sql, { limit: DISPATCH_BATCH, organizationIds });
    for (let i = 0; i < batch.length; i += DISPATCH_PARALLEL) {
      await Promise.all(
        batch.slice(i, i + DISPATCH_PARALLEL).map(async (delivery) => {
          const ids = { eventId: delivery.event_id, endpointId: delivery.endpoint_id };
          await startWorkflowOnce(client, eventDeliveryWorkflow, {
            workflowId: eventDeliveryWorkflowId(ids.eventId, ids.endpointId),
            taskQueue: config.EVENT_DELIVERY_TASK_QUEUE,
            args: [{ ...ids, retry: deliveryRetry(config) }],
            staticSummary: `Event ${ids.eventId} to webhook endpoint ${ids.endpointId}`,
          });
          await markDeliveryStarted(sql, ids);
          started += 1;
        }),
      );
    }
    if (batch.length < DISPATCH_BATCH) return started;
  }
}

/**
 * Runs the dispatcher until stopped: woken by Postgres NOTIFY when an event with deliveries is
 * recorded, and every `intervalMs` anyway (a notification is lost while the listener reconnects).
 * One pass at a time. Returns the function that stops it.
 */
export async function runEventDispatcher(
  deps: DispatchDeps,
  {
    intervalMs,
    organizationIds,
    log,
  }: { intervalMs: number; organizationIds?: readonly string[]; log: Pick<PurchaseLog, 'error'> },
): Promise<() => Promise<void>> {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let stopped = false;
  const pass = () => {
    if (queued || stopped) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      if (stopped) return;
      try {
        await dispatchEventDeliveries(deps, organizationIds ? { organizationIds } : {});
      } catch (error) {
        log.error({ err: error }, 'event dispatch failed; will retry');
      }
    });
  };
  const listener = await deps.sql.listen('credit_pack_event_deliveries', pass, pass).catch((error) => {
    log.error({ err: error }, 'event dispatcher cannot LISTEN; polling only');
    return null;
  });
  const timer = setInterval(pass, intervalMs);
  pass();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await listener?.unlisten().catch(() => undefined);
    await running;
  };
}

/**
 * Deletes a webhook endpoint and stops its pending deliveries: marked canceled with the deletion, and
 * their workflows canceled at once (best effort: a workflow not reached finds the delivery canceled at
 * its next attempt and sends nothing).
 */
export async function deleteEndpointAndStopDeliveries(
  deps: { sql: Sql; temporal: Client | null },
  ids: { organizationId: string; endpointId: string },
  log: Pick<PurchaseLog, 'error'>,
): Promise<void> {
  const { canceledEventIds } = await deleteWebhookEndpoint(deps.sql, ids.organizationId, ids.endpointId);
  const { temporal } = deps;
  if (!temporal) return;
  for (let i = 0; i < canceledEventIds.length; i += DISPATCH_PARALLEL) {
    await Promise.all(
      canceledEventIds.slice(i, i + DISPATCH_PARALLEL).map((eventId) =>
        temporal.workflow
          .getHandle(eventDeliveryWorkflowId(eventId, ids.endpointId))
          .cancel()
          .catch((error: unknown) => {
            if (error instanceof WorkflowNotFoundError) return;
            log.error(
              { err: error, eventId, endpointId: ids.endpointId },
              'delivery not canceled; it stops at its next attempt',
            );
          }),
      ),
    );
  }
}
