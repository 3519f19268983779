// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { saveAutoTopUp } from '../../src/db/auto-top-up';
import { requestBodyHash } from '../../src/db/idempotency';
import { recordUsage } from '../../src/db/usage';
import { buildApp } from '../../src/portal/app';
import {
  purchaseStarter,
  purchaseWorkflowExists,
  signalAutoTopUp,
  startOrphanedPurchases,
} from '../../src/purchases';
import { topUpContext } from '../../src/purchases/auto-top-up';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/create-worker';
import { autoTopUpWorkflowId, purchaseWorkflowId } from '../../src/workflows';
import { AutoTopUpPausedReasonKey, AutoTopUpStateKey } from '../../src/workflows/purchase/search-attributes';
import { newCustomer, newPack, newWorld, ok, uniqueName, type World } from '../catalog/helpers';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';
import { workflowBundle } from '../support/worker';

/**
 * The per-customer auto top-up workflow (`auto-top-up:<org>:<customer>`), all real: the portal app with
 * the test worker's Temporal client, the worker running the workflow and its activity, Postgres and the
 * Stripe emulator. No sweep runs unless a test calls it: what starts here starts through the workflow.
 */
let env: PurchaseEnv;
let app: FastifyInstance;
/** The same app, but its Temporal client points at a port where nothing listens (signals are lost). */
let appWithoutTemporal: FastifyInstance;
let world: World;
let pack: any;

beforeAll(async () => {
  env = await purchaseEnv();
  app = await buildApp({ config: env.config, sql: env.sql, logger: false, temporal: env.temporal.client });
  const down = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  appWithoutTemporal = await buildApp({ config: env.config, sql: env.sql, logger: false, temporal: down });
  world = await newWorld(app);
  pack = await newPack(app, world, { name: uniqueName('Top-up Pack'), credits: 500, price: 4000 });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await appWithoutTemporal?.close();
  await env?.close();
}, 60_000);

/** A Pro customer (1,000 plan credits) with a card recorded as the card on file. */
async function customer(card = 'pm_card_visa') {
  const c = await newCustomer(app, world, world.plans.pro.id, 'active', {
    defaultPaymentMethodId: card,
  });
  return c.customer.id as string;
}

const put = (on: FastifyInstance, customerId: string, monthlyLimit: number) =>
  ok(on, 'PUT', `/v1/customers/${customerId}/auto-top-up`, {
    token: world.apiKey,
    body: { enabled: true, thresholdCredits: 100, creditPackId: pack.id, monthlyLimit },
  });

const use = (on: FastifyInstance, customerId: string, credits: number) =>
  ok(on, 'POST', `/v1/customers/${customerId}/usage`, {
    token: world.apiKey,
    body: { credits },
    headers: { 'idempotency-key': randomUUID() },
    status: 200,
  });

/** The workflow ids Temporal's visibility lists for `query`, restricted to this customer. */
async function listed(customerId: string, query: string): Promise<string[]> {
  const ids: string[] = [];
  const full = `${query} AND CreditPackCustomerId = '${customerId}' AND ExecutionStatus = 'Running'`;
  for await (const execution of env.temporal.client.workflow.list({ query: full })) {
    ids.push(execution.workflowId);
  }
  return ids;
}

/** Waits until visibility lists the customer's auto top-up workflow for `query` (and only it). */
function findable(customerId: string, query: string, timeoutMs = 15_000) {
  const id = autoTopUpWorkflowId(world.orgId, customerId);
  return waitFor(
    async () => {
      const ids = await listed(customerId, query);
      return ids.length === 1 && ids[0] === id ? ids : null;
    },
    `${id} listed by ${query}`,
    timeoutMs,
  );
}

const PAUSED_MONTHLY =
  "CreditPackAutoTopUpState = 'paused' AND CreditPackAutoTopUpPausedReason = 'monthly_limit'";
const ACTIVE = "CreditPackAutoTopUpState = 'active'";

async function autoTopUpWorkflowExists(customerId: string): Promise<boolean> {
  try {
    await env.temporal.client.workflow.getHandle(autoTopUpWorkflowId(world.orgId, customerId)).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** The customer's auto top-up purchases, oldest first. */
const topUpsOf = (customerId: string) =>
  env.sql<{ id: string; status: string }[]>`
    select id, status from purchases where customer_id = ${customerId} and trigger = 'auto_top_up'
     order by created_at`;

async function completes(purchaseId: string) {
  const result = await env.temporal.client.workflow.getHandle(purchaseWorkflowId(purchaseId)).result();
  expect(result.status).toBe('completed');
}

describe('the per-customer auto top-up workflow', () => {
  it('a monthly_limit pause decided at the threshold is found in Temporal; a PUT resuming it reads active', async () => {
    const customerId = await customer();
    // A limit below the pack's price: the first crossing pauses it (monthly_limit), no purchase made.
    await put(app, customerId, 1_000);
    await findable(customerId, ACTIVE);
    await use(app, customerId, 950);
    expect(await topUpsOf(customerId)).toEqual([]);
    await findable(customerId, PAUSED_MONTHLY);
    expect(await listed(customerId, ACTIVE)).toEqual([]);

    // The PUT lifts the pause; the total (50) is below the threshold, so it also tops up.
    const saved = await put(app, customerId, 100_000);
    expect(saved.state).toBe('active');
    await findable(customerId, ACTIVE);
    expect(await listed(customerId, "CreditPackAutoTopUpState = 'paused'")).toEqual([]);
    const described = await env.temporal.client.workflow
      .getHandle(autoTopUpWorkflowId(world.orgId, customerId))
      .describe();
    expect(described.typedSearchAttributes.get(AutoTopUpPausedReasonKey)).toBeUndefined();
    const [topUp] = await topUpsOf(customerId);
    await completes(topUp?.id ?? '');
  }, 60_000);

  it('a top-up owed after a refund took credits back starts at once, without the sweep', async () => {
    const customerId = await customer();
    await put(app, customerId, 100_000);
    await use(app, customerId, 1_000); // total 0: the first top-up (500 credits)
    const [first] = await topUpsOf(customerId);
    await completes(first?.id ?? '');

    // Refunding it takes its 500 credits back: total 0, below the threshold; the reversal's transaction
    // records the second top-up, and the customer's workflow starts it (no sweep runs in this file).
    await ok(app, 'POST', `/v1/purchases/${first?.id}/refunds`, {
      token: world.apiKey,
      body: {},
      headers: { 'idempotency-key': randomUUID() },
      status: 202,
    });
    const second = await waitFor(
      async () => (await topUpsOf(customerId))[1] ?? null,
      'the second top-up to be recorded',
      15_000,
    );
    await waitFor(
      () => purchaseWorkflowExists(env.temporal.client, second.id),
      'the top-up owed after the refund to start',
      5_000,
    );
    await completes(second.id);
  }, 60_000);

  it('a signal lost while Temporal is unreachable is repaired by the sweep', async () => {
    const customerId = await customer();
    // The app's client cannot reach Temporal: the PUT and the usage stand, their signals are lost.
    await put(appWithoutTemporal, customerId, 1_000);
    await use(appWithoutTemporal, customerId, 950);
    expect(await autoTopUpWorkflowExists(customerId)).toBe(false);

    const sweep = () =>
      startOrphanedPurchases(
        { sql: env.sql, client: env.temporal.client, config: env.config },
        { olderThanMs: 0, organizationId: world.orgId },
      );
    expect((await sweep()).signaled).toContain(customerId);
    await findable(customerId, PAUSED_MONTHLY);
    // Mirrored now: the next sweep has nothing to repair for this customer.
    expect((await sweep()).signaled).not.toContain(customerId);
  }, 60_000);

  it("a pause applied by a top-up's own end (3-D Secure) is found in Temporal once the sweep has signaled it", async () => {
    const customerId = await customer('pm_card_authenticationRequired');
    await put(app, customerId, 100_000);
    await use(app, customerId, 1_000); // total 0: a top-up, whose charge needs 3-D Secure
    const [topUp] = await topUpsOf(customerId);
    const result = await env.temporal.client.workflow.getHandle(purchaseWorkflowId(topUp?.id ?? '')).result();
    expect(result.status).toBe('failed');
    // Its status write paused the auto top-up (an activity's write: no signal); the sweep sends one.
    await startOrphanedPurchases(
      { sql: env.sql, client: env.temporal.client, config: env.config },
      { olderThanMs: 0, organizationId: world.orgId },
    );
    await findable(
      customerId,
      "CreditPackAutoTopUpState = 'paused' AND CreditPackAutoTopUpPausedReason = 'authentication_required'",
    );
  }, 60_000);

  it('changes signaled while no worker polls (down, restarting) are carried out once a worker is back', async () => {
    // A task queue of this test's own, with no worker yet: Temporal holds the workflow and its signals.
    const taskQueue = `test-restart-${randomUUID()}`;
    const config = { ...env.config, TEMPORAL_TASK_QUEUE: taskQueue };
    const queueApp = await buildApp({ config, sql: env.sql, logger: false, temporal: env.temporal.client });
    const customerId = await customer();
    const handle = env.temporal.client.workflow.getHandle(autoTopUpWorkflowId(world.orgId, customerId));
    let connection: NativeConnection | undefined;
    let worker: Worker | undefined;
    let running: Promise<void> | undefined;
    try {
      await put(queueApp, customerId, 1_000);
      await use(queueApp, customerId, 950); // paused monthly_limit, in Postgres
      expect(await autoTopUpWorkflowExists(customerId)).toBe(true);
      expect((await handle.describe()).typedSearchAttributes.get(AutoTopUpStateKey)).toBeUndefined();

      connection = await NativeConnection.connect(temporalConnectionOptions(config));
      worker = await createWorker({
        config,
        connection,
        activities: createActivities({
          config,
          sql: env.sql,
          stripe: env.stripe,
          startPurchase: purchaseStarter(env.temporal.client, config),
        }),
        workflowBundle: await workflowBundle(),
        taskQueue,
      });
      running = worker.run();
      await findable(customerId, PAUSED_MONTHLY);
      await put(queueApp, customerId, 100_000);
      await findable(customerId, ACTIVE);
      const [topUp] = await topUpsOf(customerId);
      await completes(topUp?.id ?? '');
    } finally {
      await handle.cancel().catch(() => undefined);
      if (running) await handle.result().catch(() => undefined);
      worker?.shutdown();
      await running;
      await connection?.close();
      await queueApp.close();
    }
  }, 60_000);

  it('continue-as-new after a bounded number of signals keeps the state, and the new run still mirrors', async () => {
    const customerId = await customer();
    const ids = { organizationId: world.orgId, customerId };
    // Paused at the threshold by the database functions alone (no signal sent).
    await saveAutoTopUp(
      env.sql,
      ids,
      { enabled: true, thresholdCredits: 100, creditPackId: pack.id, quantity: 1, monthlyLimit: 1_000 },
      { ...topUpContext(), maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
    );
    await recordUsage(
      env.sql,
      {
        ...ids,
        credits: 950,
        idempotencyKey: randomUUID(),
        requestPath: `/v1/customers/${customerId}/usage`,
        requestHash: requestBodyHash({ credits: 950 }),
      },
      topUpContext(),
    );

    const handle = env.temporal.client.workflow.getHandle(autoTopUpWorkflowId(world.orgId, customerId));
    await signalAutoTopUp(env.temporal.client, env.config, ids, 'test', { signalsPerRun: 3 });
    const firstRunId = (await handle.describe()).runId;
    for (let i = 0; i < 9; i += 1) {
      await signalAutoTopUp(env.temporal.client, env.config, ids, `test ${i}`);
    }
    // Ten signals at three a run: the first run continued as new (at least twice over all runs).
    await waitFor(
      async () => {
        const first = await env.temporal.client.workflow.getHandle(handle.workflowId, firstRunId).describe();
        return first.status.name === 'CONTINUED_AS_NEW';
      },
      'the first run to continue as new',
      15_000,
    );
    const current = await waitFor(
      async () => {
        const described = await handle.describe();
        return described.runId !== firstRunId ? described : null;
      },
      'a new run',
      15_000,
    );
    expect(current.typedSearchAttributes.get(AutoTopUpStateKey)).toBe('paused');
    expect(current.typedSearchAttributes.get(AutoTopUpPausedReasonKey)).toBe('monthly_limit');
    await findable(customerId, PAUSED_MONTHLY);

    // The run after continue-as-new still carries out a change: the PUT resumes it.
    await put(app, customerId, 100_000);
    await findable(customerId, ACTIVE);
    const [topUp] = await topUpsOf(customerId);
    await completes(topUp?.id ?? '');
  }, 60_000);
});
