// Must stay first: installs the SDK runtime with an errors-only logger (see the module).
import './quiet-runtime';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/create-worker';
import { paymentMethodAddedSignal } from '../../src/workflows';
import {
  ELIGIBILITY_LOCAL_PATCH,
  NO_CREDITING_UPSERT_PATCH,
  ONE_MARKER_PATCH,
  STATUS_WRITES_IN_STEPS_PATCH,
} from '../../src/workflows/purchase/workflow';
import { patchIdsOf, scheduledActivities } from '../support/history';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { workflowBundle } from '../support/worker';

/**
 * A purchase in flight when the 2026-11-27 round-trip patches are deployed: started by the code of
 * before (test/replay/variants/before-2026-11-27), waiting for a card when its worker is replaced by
 * one running the current code. The current code replays its start (eligibility as a regular
 * activity, no marker), then, live, takes the new path from the charge on: the charge records
 * `charging`, the grant records `crediting`, no `crediting` upsert. Its history replays against the
 * current code and no longer against the old one.
 */

const noop = () => {};
const silentLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

let env: PurchaseEnv;
let connection: NativeConnection;
let oldBundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
/** The code of the three round-trip patches, before the one marker. */
let threePatchBundle: typeof oldBundle;
beforeAll(async () => {
  env = await purchaseEnv({ cardWaitTimeoutMs: 60_000 });
  connection = await NativeConnection.connect(temporalConnectionOptions(env.config));
  oldBundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./variants/before-2026-11-27/index.ts', import.meta.url)),
    logger: silentLogger,
  });
  threePatchBundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./variants/before-one-marker/index.ts', import.meta.url)),
    logger: silentLogger,
  });
});
afterAll(async () => {
  await connection?.close();
  await env?.close();
});

async function runWorker(bundle: typeof oldBundle, taskQueue: string) {
  const worker = await createWorker({
    config: env.config,
    connection,
    activities: createActivities({ config: env.config, sql: env.sql, stripe: env.stripe }),
    workflowBundle: bundle,
    taskQueue,
  });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

/**
 * A purchase without a card, started by a worker running `deployedBundle`, waiting for a card when that
 * worker stops; a worker running the current code then finishes it (card added, message sent). Returns
 * the purchase and its whole history.
 */
async function parkThenFinishOnCurrent(deployedBundle: typeof oldBundle) {
  const taskQueue = `test-in-flight-${crypto.randomUUID()}`;
  const shopper = await env.shopper(); // no card: it waits for one
  const { purchaseId, start } = await env.record(shopper);

  const before = await runWorker(deployedBundle, taskQueue);
  const handle = await start({ taskQueue });
  const waiting = await env.reaches(handle, 'awaiting_payment_method');
  await before.stop();
  const setupIntentId = waiting.setupIntentId as string;

  const after = await runWorker(await workflowBundle(), taskQueue);
  try {
    await env.stripe.setupIntents.confirm(setupIntentId, { payment_method: 'pm_card_visa' });
    await handle.signal(paymentMethodAddedSignal, { setupIntentId });
    expect((await handle.result()).status).toBe('completed');
  } finally {
    await after.stop();
  }
  return { shopper, purchaseId, handle, setupIntentId, history: await handle.fetchHistory() };
}

describe('a purchase in flight at the deploy of the round-trip patches', () => {
  it('keeps its recorded start and takes the new steps from the charge on', async () => {
    const { shopper, purchaseId, handle, setupIntentId, history } = await parkThenFinishOnCurrent(oldBundle);
    const events = history.events ?? [];
    expect(scheduledActivities(events)).toEqual([
      'checkPurchaseEligibility', // recorded by the old code: a regular activity
      'ensureStripeCustomer',
      'createSetupIntent',
      'recordPurchaseStatus', // awaiting_payment_method: a write of its own on every path
      'adoptSetupIntentPaymentMethod',
      'chargeOffSession', // records charging itself
      'grantPurchasedCredits', // records crediting and completed itself
    ]);
    const patchIds = patchIdsOf(events);
    expect(patchIds).not.toContain(ELIGIBILITY_LOCAL_PATCH);
    expect(patchIds).toEqual(
      expect.arrayContaining([STATUS_WRITES_IN_STEPS_PATCH, NO_CREDITING_UPSERT_PATCH]),
    );
    const transitions = await env.sql<{ to: string }[]>`
      select to_status as to from purchase_transitions where purchase_id = ${purchaseId} order by id`;
    expect(transitions.map((t) => t.to)).toEqual([
      'pending',
      'awaiting_payment_method',
      'charging',
      'crediting',
      'completed',
    ]);
    expect(await env.row(purchaseId)).toMatchObject({
      status: 'completed',
      stripe_setup_intent_id: setupIntentId,
    });
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });

    // The mixed history replays against the current code, and no longer against the old code.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
    const old = await Worker.runReplayHistory({ workflowBundle: oldBundle }, history, handle.workflowId).then(
      () => null,
      (error: unknown) => error,
    );
    expect(old).toBeInstanceOf(DeterminismViolationError);
  });
});

describe('a purchase in flight at the deploy of the one marker', () => {
  it('keeps the markers it recorded, asks the earlier patches live, and never takes the one marker', async () => {
    const { shopper, purchaseId, handle, setupIntentId, history } =
      await parkThenFinishOnCurrent(threePatchBundle);
    const events = history.events ?? [];
    expect(scheduledActivities(events)).toEqual([
      'ensureStripeCustomer',
      'createSetupIntent', // recorded by the three-patch code: a step of its own
      'recordPurchaseStatus',
      'adoptSetupIntentPaymentMethod',
      'chargeOffSession',
      'grantPurchasedCredits',
    ]);
    const patchIds = patchIdsOf(events);
    // Recorded by the old code, then asked live by the new one (no one marker in the middle of a run).
    expect(patchIds).toEqual([
      ELIGIBILITY_LOCAL_PATCH,
      'recheck-stripe-during-waits',
      STATUS_WRITES_IN_STEPS_PATCH,
      NO_CREDITING_UPSERT_PATCH,
    ]);
    expect(patchIds).not.toContain(ONE_MARKER_PATCH);
    expect(await env.row(purchaseId)).toMatchObject({
      status: 'completed',
      stripe_setup_intent_id: setupIntentId,
    });
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });

    // The history replays against the current code and against the three-patch code it started on.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
    await Worker.runReplayHistory({ workflowBundle: threePatchBundle }, history, handle.workflowId);
  });
});
