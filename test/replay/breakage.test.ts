// Must stay first: installs the SDK runtime with an errors-only logger (see the module).
import './quiet-runtime';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type ReplayResult, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { createPurchase, purchaseTimeouts, startPurchaseWorkflow } from '../../src/purchases';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/create-worker';
import type { purchaseWorkflow } from '../../src/workflows';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { workflowBundle } from '../support/worker';
import { historyFiles, type LoadedHistory, loadHistory, workflowTypeOf } from './history-files';

/**
 * Proof that the replay suite catches breakage: the same change to the purchase workflow (one extra
 * activity before the first step), made without and with `patched()`, replayed against every stored
 * history. Without the patch every replay must fail as nondeterministic; with it every replay must pass.
 */

type Bundle = Awaited<ReturnType<typeof bundleWorkflowCode>>;
const noop = () => {};
const silentLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
const variant = (name: string) =>
  bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL(`./variants/${name}/index.ts`, import.meta.url)),
    logger: silentLogger,
  });

/** Replays every history with one replay worker; one result per history, in order, named by file. */
async function replayAll(bundle: Bundle, histories: LoadedHistory[]) {
  const results: (ReplayResult & { file: string })[] = [];
  const replay = Worker.runReplayHistories(
    { workflowBundle: bundle },
    histories.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  for await (const result of replay) {
    const file = histories[results.length]?.file as string;
    expect(result.workflowId).toBe(histories[results.length]?.workflowId);
    results.push({ ...result, file });
  }
  expect(results).toHaveLength(histories.length);
  return results;
}

let histories: LoadedHistory[];
let incompatible: Bundle;
let patched: Bundle;
let deprecated: Bundle;
let reordered: Bundle;
beforeAll(async () => {
  // The variants change the purchase workflow: they are replayed against the purchases' histories (the
  // auto top-up workflow's replay in histories.test.ts, against the real bundle).
  histories = historyFiles()
    .map((file) => loadHistory(file))
    .filter(({ history }) => workflowTypeOf(history) === 'purchaseWorkflow');
  [incompatible, patched, deprecated, reordered] = await Promise.all([
    variant('incompatible'),
    variant('patched'),
    variant('deprecated'),
    variant('reordered-compensations'),
  ]);
});

/** Stored runs whose failure had two steps to undo (so the order in which the saga undoes them shows). */
const TWO_COMPENSATIONS = [
  'compensation-failed.2026-11-27-2.json',
  'compensation-failed.2026-11-27.json',
  'compensation-failed.json',
  'failed-during-3ds-two-undone.2026-11-27-2.json',
  'failed-during-3ds-two-undone.2026-11-27.json',
  'failed-during-3ds-two-undone.json',
];

describe('replaying the stored histories against a changed workflow', () => {
  it('there are histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it('an activity added WITHOUT patched(): every history fails with a DeterminismViolationError', async () => {
    const results = await replayAll(incompatible, histories);
    const passed = results.filter((r) => !r.error).map((r) => r.file);
    expect(passed, 'these histories replayed although the code changed underneath them').toEqual([]);
    for (const { file, error } of results) {
      expect(error, file).toBeInstanceOf(DeterminismViolationError);
      expect(error?.message, file).toMatch(/nondeterminism/i);
      // Core names what diverged: the recorded first activity vs the one the changed code scheduled,
      // or, in the runs recorded since eligibility became a local activity, the recorded first
      // command, that patch's marker (since the one marker, that marker).
      expect(error?.message, file).toMatch(
        /describeDatabase|checkPurchaseEligibility|patch marker encountered for change 2026-11-27-(eligibility-local-activity|one-marker)/,
      );
    }
  });

  it('the same change behind patched(): every history replays', async () => {
    const results = await replayAll(patched, histories);
    const failed = results.filter((r) => r.error).map((r) => `${r.file}: ${r.error?.message}`);
    expect(failed).toEqual([]);
  });

  it('compensations run oldest first instead of newest first: the runs that undid two steps fail, the others replay', async () => {
    const results = await replayAll(reordered, histories);
    const failed = results.filter((r) => r.error).map((r) => r.file);
    expect(failed.sort()).toEqual(TWO_COMPENSATIONS);
    for (const { file, error } of results.filter((r) => r.error)) {
      expect(error, file).toBeInstanceOf(DeterminismViolationError);
      // Core names the swap: the refund recorded second, scheduled first by the reordered code.
      expect(error?.message, file).toMatch(/cancelPaymentIntent|refundPayment/);
    }
  });

  it('the real workflow code replays them all in one batch too (the suite is not vacuous either way)', async () => {
    const results = await replayAll(await workflowBundle(), histories);
    expect(results.filter((r) => r.error).map((r) => `${r.file}: ${r.error?.message}`)).toEqual([]);
  });
});

describe('a new run of the patched variant, and deprecatePatch()', () => {
  // Shows the patch really takes the new path in new runs, and why the patch cannot simply be
  // removed while such runs are open or retained: the code without it no longer replays them.
  let env: PurchaseEnv;
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;
  const taskQueue = `test-replay-patched-${randomUUID()}`;

  beforeAll(async () => {
    env = await purchaseEnv();
    connection = await NativeConnection.connect(temporalConnectionOptions(env.config));
    worker = await createWorker({
      config: env.config,
      connection,
      activities: createActivities({ config: env.config, sql: env.sql, stripe: env.stripe }),
      workflowBundle: patched,
      taskQueue,
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
    await env?.close();
  });

  async function purchaseOnPatchedWorker(client: Client): Promise<WorkflowHandle<typeof purchaseWorkflow>> {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchase } = await createPurchase(
      env.sql,
      {
        organizationId: shopper.organizationId,
        customerId: shopper.customerId,
        creditPackId: shopper.packId,
        quantity: 1,
        idempotencyKey: randomUUID(),
      },
      { maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
    );
    const { workflowId } = await startPurchaseWorkflow(client, purchase, {
      taskQueue,
      timeouts: purchaseTimeouts(env.config),
    });
    return client.workflow.getHandle(workflowId);
  }

  it('records the patch marker and runs the new step; code without the patch cannot replay it, deprecatePatch() can (but no pre-patch history)', async () => {
    const handle = await purchaseOnPatchedWorker(env.temporal.client);
    expect((await handle.result()).status).toBe('completed');
    const history = await handle.fetchHistory();
    const marker = history.events?.find((e) => e.markerRecordedEventAttributes);
    expect(marker?.markerRecordedEventAttributes?.markerName).toBe('core_patch');
    const activities = history.events
      ?.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(activities?.[0]).toBe('describeDatabase');

    const fresh = [{ file: 'new run of the patched variant', workflowId: handle.workflowId, history }];
    expect((await replayAll(patched, fresh))[0]?.error).toBeUndefined();
    const withoutPatch = (await replayAll(await workflowBundle(), fresh))[0]?.error;
    expect(withoutPatch).toBeInstanceOf(DeterminismViolationError);
    expect(withoutPatch?.message).toMatch(/patch marker/i);

    // Step two, deprecatePatch(): replays the runs recorded with the patch, but no longer the ones
    // recorded before it — which is why it waits until no such run is open (CONTRIBUTING.md).
    expect((await replayAll(deprecated, fresh))[0]?.error).toBeUndefined();
    const prePatch = await replayAll(deprecated, histories);
    expect(prePatch.filter((r) => !r.error).map((r) => r.file)).toEqual([]);
  });
});
