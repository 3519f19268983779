// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import type { Config } from '../../src/config';
import { runEventDispatcher } from '../../src/purchases/event-deliveries';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/create-worker';
import { call, ok } from '../catalog/helpers';
import { type PortalHarness, portalHarness } from '../checkout/harness';
import { workflowBundle } from '../support/worker';

/** What the test receiver does with one request. */
export type ReceiverMove = 'accept' | 'error500' | 'drop' | 'stall';

export interface Received {
  rawBody: string;
  signature: string | undefined;
  event: any;
  /** the move the receiver made */
  move: ReceiverMove;
  at: number;
}

/**
 * A webhook receiver of the suite: it records every request (raw body and signature) and answers as
 * `plan(event, attemptOfThisEvent)` says: accept (200), error500, drop (socket destroyed: no answer) or
 * stall (no answer until the client gives up).
 */
export async function testReceiver(plan: (event: any, attempt: number) => ReceiverMove = () => 'accept') {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let event: any = null;
      try {
        event = JSON.parse(rawBody);
      } catch {}
      const attempt = (attempts.get(event?.id) ?? 0) + 1;
      attempts.set(event?.id, attempt);
      const move = plan(event, attempt);
      const signature = request.headers['credit-packs-signature'];
      received.push({
        rawBody,
        signature: Array.isArray(signature) ? signature[0] : signature,
        event,
        move,
        at: Date.now(),
      });
      if (move === 'accept') response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      else if (move === 'error500') response.writeHead(500).end('boom');
      else if (move === 'drop') request.socket.destroy();
      // stall: never answer (the socket is destroyed when the receiver closes)
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${randomUUID().slice(0, 8)}`;
  return {
    url,
    received,
    /** The distinct events accepted (deduplicated by id, as a receiver must). */
    accepted(): Map<string, any> {
      const byId = new Map<string, any>();
      for (const r of received) if (r.move === 'accept') byId.set(r.event.id, r.event);
      return byId;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
export type TestReceiver = Awaited<ReturnType<typeof testReceiver>>;

/** A delivery worker of this file's own, on its own task queue. */
async function startDeliveryWorker(config: Config, deps: { sql: any; stripe: any }) {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const worker: Worker = await createWorker({
    config: { ...config, WORKER_MAX_CONCURRENT_ACTIVITIES: config.EVENT_DELIVERY_MAX_CONCURRENT },
    connection,
    activities: createActivities({ config, sql: deps.sql, stripe: deps.stripe }),
    workflowBundle: await workflowBundle(),
    taskQueue: config.EVENT_DELIVERY_TASK_QUEUE,
  });
  const running = worker.run();
  return {
    worker,
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * The portal harness (portal, purchase worker, emulator) plus what delivers events: a delivery worker
 * on a task queue of this file's own and the dispatcher, scoped to this file's organizations (the
 * database is shared with files running in parallel). `retryBaseMs` runs the retry schedule fast.
 */
export async function eventsHarness({ retryBaseMs = 200 }: { retryBaseMs?: number } = {}) {
  const h: PortalHarness = await portalHarness();
  const config: Config = {
    ...h.env.config,
    EVENT_DELIVERY_TASK_QUEUE: `test-deliveries-${randomUUID()}`,
    EVENT_DELIVERY_RETRY_BASE_MS: retryBaseMs,
  };
  const organizationIds: string[] = [h.world.orgId];
  let delivery = await startDeliveryWorker(config, h.env);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const stopDispatcher = await runEventDispatcher(
    { sql: h.env.sql, client, config },
    { intervalMs: 200, organizationIds, log: { error: (o, m) => console.error(m, o) } },
  );

  const admin = (method: string, url: string, body?: unknown, apiKey = h.world.apiKey) =>
    call(h.app, method as any, url, { token: apiKey, ...(body === undefined ? {} : { body }) });

  async function endpoint(url: string, events?: string[], apiKey = h.world.apiKey) {
    return ok(h.app, 'POST', '/v1/webhook-endpoints', {
      token: apiKey,
      body: events ? { url, events } : { url },
    });
  }

  return {
    ...h,
    config,
    client,
    organizationIds,
    admin,
    endpoint,
    /** Stops the delivery worker (a crash or a deploy) and starts a new one on the same task queue. */
    async restartDeliveryWorker(whileDown: () => Promise<void> = async () => {}) {
      await delivery.close();
      await whileDown();
      delivery = await startDeliveryWorker(config, h.env);
    },
    async close() {
      await stopDispatcher();
      // Deliveries still retrying (endpoints of a test that never accept) are this file's to end.
      for await (const execution of client.workflow.list({
        query: `TaskQueue = '${config.EVENT_DELIVERY_TASK_QUEUE}' AND ExecutionStatus = 'Running'`,
      })) {
        await client.workflow
          .getHandle(execution.workflowId)
          .terminate('test over')
          .catch(() => undefined);
      }
      await delivery.close();
      await connection.close();
      await h.close();
    },
  };
}
export type EventsHarness = Awaited<ReturnType<typeof eventsHarness>>;
