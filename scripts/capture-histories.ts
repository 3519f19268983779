/**
 * Captures one workflow history per purchase flow (and the auto top-up workflow's run continued as new),
 * for the replay suite (test/replay).
 *
 *   npm run histories:capture                       every flow
 *   npm run histories:capture -- --only declined,refunded
 *   npm run histories:capture -- --out /tmp/histories
 *
 * Brings the test stack up (stopping afterwards only what it started), runs every flow for real
 * (a worker made by the project's `createWorker`, the test Postgres, a private Stripe emulator), checks
 * that each ended where it should, replays it against the current code once, and saves it as
 * `test/histories/<flow>.json` with its own workflow id.
 *
 * Existing files are never overwritten: stored histories are the record of what older code did (see
 * CONTRIBUTING.md). If `<flow>.json` exists, the new capture is saved as `<flow>.<YYYY-MM-DD>.json`
 * (then `…-2`, `…-3` the same day), a new generation beside the old one.
 */

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WorkflowContinuedAsNewError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { FailureType, nonRetryable } from '../src/activities/failures';
import { saveAutoTopUp } from '../src/db/auto-top-up';
import type { PurchaseStatus } from '../src/domain/purchase-states';
import { purchaseTimeouts } from '../src/purchases';
import { signalAutoTopUp, startTopUp, topUpContext } from '../src/purchases/auto-top-up';
import {
  autoTopUpWorkflowId,
  cancelPurchaseUpdate,
  type PurchaseState,
  paymentMethodAddedSignal,
  paymentOutcomeSignal,
  purchaseWorkflow,
  purchaseWorkflowId,
} from '../src/workflows';
import { HISTORIES_DIR, historyFromJson, historyToJson } from '../test/replay/history-files';
import { testConfig } from '../test/support/config';
import { emulatorControl } from '../test/support/emulator-control';
import { activityRan } from '../test/support/history';
import { type PurchaseEnv, purchaseEnv, type ShopperOptions } from '../test/support/purchase-env';
import { workflowBundle } from '../test/support/worker';
import { stackDown, stackUp } from './stack/stack';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Handle = WorkflowHandle<typeof purchaseWorkflow> | WorkflowHandle;

interface Flow {
  name: string;
  description: string;
  /**
   * The terminal status the purchase must reach, or `{ workflowFails }`: the workflow itself must fail
   * with that ApplicationFailure type (a purchase whose undo cannot be done); `{ continuedAsNew }`: the
   * run (a long-lived workflow's, handled without following runs) must continue as new; else the capture
   * is refused.
   */
  expect: PurchaseStatus | { workflowFails: string } | { continuedAsNew: true };
  run(env: PurchaseEnv): Promise<Handle>;
  /** Undoes what the flow left outstanding on purpose (money a failed undo left), after the capture. */
  cleanUp?(env: PurchaseEnv): Promise<void>;
}

/** The customer, on-session, confirms the PaymentIntent and passes (or fails) 3-D Secure. */
async function authenticateOnSession(env: PurchaseEnv, paymentIntentId: string, outcome: 'succeed' | 'fail') {
  const paymentIntent = await env.stripe.paymentIntents.retrieve(paymentIntentId);
  await env.stripe.paymentIntents.confirm(paymentIntentId, {
    payment_method: paymentIntent.last_payment_error?.payment_method?.id,
  });
  await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, outcome);
}

async function stallNextCharge(env: PurchaseEnv) {
  await emulatorControl(env.emulatorUrl).fault({
    match: { method: 'POST', path: '/v1/payment_intents' },
    times: 1,
    action: { type: 'stall', ms: 2_000 },
  });
}

/** Long waits, frequent re-reads of Stripe: the purchase can only move on by re-reading. */
const lostMessageWaits = {
  cardWaitTimeoutMs: 10 * 60 * 1000,
  authenticationWaitTimeoutMs: 10 * 60 * 1000,
  stripeRecheckIntervalMs: 1_000,
};

const openPaymentIntents: string[] = [];

/**
 * What Temporal reports once a compensation's 7-day retry window is exhausted: the undo failing for
 * good (the workflow sees an activity failure either way, so the commands are the same).
 */
const undoFailsForGood = async (): Promise<never> => {
  throw nonRetryable(FailureType.PaymentRequestRejected, 'capture: the undo fails for good');
};

/** Short waits that end only at their deadline (no re-read of Stripe before it). */
const deadlineOnlyWaits = {
  cardWaitTimeoutMs: 3_000,
  authenticationWaitTimeoutMs: 3_000,
  stripeRecheckIntervalMs: 10 * 60 * 1000,
};

/**
 * An auto top-up of a new shopper: saving the settings (threshold above the empty balance) records the
 * top-up purchase, started as the routes start it (trigger auto_top_up in its input).
 */
async function autoTopUp(env: PurchaseEnv, shopper: ShopperOptions): Promise<Handle> {
  const who = await env.shopper(shopper);
  const { topUp } = await saveAutoTopUp(
    env.sql,
    { organizationId: who.organizationId, customerId: who.customerId },
    { enabled: true, thresholdCredits: 100, creditPackId: who.packId, quantity: 1, monthlyLimit: 1_000_000 },
    { ...topUpContext(), maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
  );
  if (!topUp) throw new Error('the settings did not start a top-up');
  await startTopUp({ temporal: env.temporal.client, config: env.config, log: console }, topUp);
  return env.temporal.client.workflow.getHandle(purchaseWorkflowId(topUp.id));
}

const flows: Flow[] = [
  {
    name: 'auto-top-up-workflow-continued-as-new',
    description:
      "a customer's auto top-up workflow (paused at the threshold, monthly_limit): three changed signals at three a run, each batch mirrored, then continued as new",
    expect: { continuedAsNew: true },
    run: async (env) => {
      const who = await env.shopper({ card: 'pm_card_visa' });
      const ids = { organizationId: who.organizationId, customerId: who.customerId };
      // The empty balance is below the threshold and the limit below the price: paused monthly_limit.
      await saveAutoTopUp(
        env.sql,
        ids,
        { enabled: true, thresholdCredits: 100, creditPackId: who.packId, quantity: 1, monthlyLimit: 1 },
        { ...topUpContext(), maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
      );
      await signalAutoTopUp(env.temporal.client, env.config, ids, 'capture', { signalsPerRun: 3 });
      const workflowId = autoTopUpWorkflowId(ids.organizationId, ids.customerId);
      const { runId } = await env.temporal.client.workflow.getHandle(workflowId).describe();
      await signalAutoTopUp(env.temporal.client, env.config, ids, 'capture 2');
      await signalAutoTopUp(env.temporal.client, env.config, ids, 'capture 3');
      return env.temporal.client.workflow.getHandle(workflowId, runId, { followRuns: false });
    },
  },
  {
    name: 'rerun-of-settled-purchase-untouched',
    description:
      'a second run for a completed purchase (as after the first left retention): the claim is refused, nothing touched',
    expect: 'pending',
    run: async (env) => {
      const shopper = await env.shopper({ card: 'pm_card_visa' });
      const { purchaseId, handle } = await env.buy(shopper);
      await handle.result();
      return env.temporal.client.workflow.start(purchaseWorkflow, {
        workflowId: `${handle.workflowId}:rerun`,
        taskQueue: env.temporal.taskQueue,
        args: [
          {
            purchaseId,
            organizationId: shopper.organizationId,
            customerId: shopper.customerId,
            creditPackId: shopper.packId,
            quantity: 1,
            ...purchaseTimeouts(env.config),
          },
        ],
      });
    },
  },
  {
    name: 'completed-card-on-file',
    description: 'card on file: pending → charging → crediting → completed',
    expect: 'completed',
    run: async (env) => (await env.buy(await env.shopper({ card: 'pm_card_visa' }))).handle,
  },
  {
    name: 'auto-top-up-completed',
    description:
      'auto top-up, card on file: charged off-session, completed (no marker: the path of any purchase)',
    expect: 'completed',
    run: (env) => autoTopUp(env, { card: 'pm_card_visa' }),
  },
  {
    name: 'auto-top-up-declined',
    description:
      'auto top-up declined (0341), the first in a row: failed card_declined, not paused (no marker)',
    expect: 'failed',
    run: (env) => autoTopUp(env, { card: 'pm_card_chargeCustomerFail' }),
  },
  {
    name: 'auto-top-up-authentication-required',
    description:
      'auto top-up needing 3-D Secure: the PaymentIntent canceled at once, failed authentication_required, the auto top-up paused (search attribute)',
    expect: 'failed',
    run: (env) => autoTopUp(env, { card: 'pm_card_authenticationRequired' }),
  },
  {
    name: 'auto-top-up-no-card',
    description:
      'auto top-up with no card on file: failed no_payment_method without asking for a card, the auto top-up paused (search attribute)',
    expect: 'failed',
    run: (env) => autoTopUp(env, {}),
  },
  {
    name: 'completed-quantity-3',
    description: 'quantity 3: charged 3 × price once, 3 × credits granted once',
    expect: 'completed',
    run: async (env) => (await env.buy(await env.shopper({ card: 'pm_card_visa' }), { quantity: 3 })).handle,
  },
  {
    name: 'ineligible-past-due',
    description: 'a past-due subscription: ineligible after the eligibility check',
    expect: 'ineligible',
    run: async (env) =>
      (await env.buy(await env.shopper({ card: 'pm_card_visa', subscriptionStatus: 'past_due' }))).handle,
  },
  {
    name: 'card-added',
    description: 'no card: SetupIntent, the customer adds a card, charged and credited',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper());
      const waiting = await env.reaches(handle, 'awaiting_payment_method');
      const setupIntentId = waiting.setupIntentId as string;
      await env.stripe.setupIntents.confirm(setupIntentId, { payment_method: 'pm_card_visa' });
      await handle.signal(paymentMethodAddedSignal, { setupIntentId });
      return handle;
    },
  },
  {
    name: 'card-added-after-premature-signal',
    description:
      'a "card added" hint before the card is really added is re-read and ignored; the real one counts',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper());
      const waiting = await env.reaches(handle, 'awaiting_payment_method');
      const setupIntentId = waiting.setupIntentId as string;
      await handle.signal(paymentMethodAddedSignal, { setupIntentId });
      await activityRan(handle, 'adoptSetupIntentPaymentMethod');
      await env.stripe.setupIntents.confirm(setupIntentId, { payment_method: 'pm_card_visa' });
      await handle.signal(paymentMethodAddedSignal, { setupIntentId });
      return handle;
    },
  },
  {
    name: 'card-added-noticed-by-recheck',
    description:
      'no card; the card is added but no message arrives: a re-read of Stripe during the wait finds it, charged and credited',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper(), lostMessageWaits);
      const waiting = await env.reaches(handle, 'awaiting_payment_method');
      await activityRan(handle, 'adoptSetupIntentPaymentMethod');
      await env.stripe.setupIntents.confirm(waiting.setupIntentId as string, {
        payment_method: 'pm_card_visa',
      });
      return handle;
    },
  },
  {
    name: 'card-never-added-expired',
    description: 'no card, none added within the card wait: expired, SetupIntent canceled',
    expect: 'expired',
    run: async (env) => (await env.buy(await env.shopper(), { cardWaitTimeoutMs: 1_500 })).handle,
  },
  {
    name: 'declined-0341',
    description: 'card 4000 0000 0000 0341: the off-session charge is declined, failed',
    expect: 'failed',
    run: async (env) => (await env.buy(await env.shopper({ card: 'pm_card_chargeCustomerFail' }))).handle,
  },
  {
    name: 'declined-on-attach-insufficient-funds',
    description: 'a card recorded on our side only, declined when attached (9995): failed, nothing charged',
    expect: 'failed',
    run: async (env) =>
      (await env.buy(await env.shopper({ recordedCard: 'pm_card_visa_chargeDeclinedInsufficientFunds' })))
        .handle,
  },
  {
    name: '3ds-passed',
    description: '3-D Secure required, the customer authenticates: completed',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }));
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      return handle;
    },
  },
  {
    name: '3ds-passed-noticed-by-recheck',
    description:
      '3-D Secure passed but no message arrives: a re-read of the PaymentIntent during the wait finds it succeeded',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(
        await env.shopper({ card: 'pm_card_authenticationRequired' }),
        lostMessageWaits,
      );
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await activityRan(handle, 'getPaymentIntentStatus');
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      return handle;
    },
  },
  {
    name: '3ds-unconfirmed-success-signal',
    description: 'a success hint Stripe does not confirm is re-read and ignored; the real success credits',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }));
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      await activityRan(handle, 'getPaymentIntentStatus');
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      return handle;
    },
  },
  {
    name: '3ds-failed',
    description: '3-D Secure required, authentication fails: failed, PaymentIntent canceled',
    expect: 'failed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }));
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await authenticateOnSession(env, paymentIntentId, 'fail');
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'failed' });
      return handle;
    },
  },
  {
    name: '3ds-never-done-expired',
    description: '3-D Secure required, never done within the wait: expired, PaymentIntent canceled',
    expect: 'expired',
    run: async (env) =>
      (
        await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }), {
          authenticationWaitTimeoutMs: 1_500,
        })
      ).handle,
  },
  {
    name: 'failed-request-refused-outer-catch',
    description:
      'a step Stripe refuses for good (attaching a recorded card Stripe does not know): the outer catch fails the purchase with payment_failed',
    expect: 'failed',
    run: async (env) =>
      (await env.buy(await env.shopper({ recordedCard: 'pm_unknownCardForTheOuterCatch' }))).handle,
  },
  {
    name: 'card-added-at-the-deadline',
    description:
      'the card is added in Stripe with no message, just before the card wait ends: the cancel at the deadline finds the SetupIntent succeeded, and the purchase is charged and completed',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper(), deadlineOnlyWaits);
      const waiting = await env.reaches(handle, 'awaiting_payment_method');
      await env.stripe.setupIntents.confirm(waiting.setupIntentId as string, {
        payment_method: 'pm_card_visa',
      });
      return handle;
    },
  },
  {
    name: '3ds-succeeded-at-the-deadline',
    description:
      '3-D Secure passed in Stripe with no message before the wait ends: the cancel at the deadline finds the PaymentIntent succeeded, and the purchase is credited',
    expect: 'completed',
    run: async (env) => {
      const { handle } = await env.buy(
        await env.shopper({ card: 'pm_card_authenticationRequired' }),
        deadlineOnlyWaits,
      );
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      return handle;
    },
  },
  {
    name: 'canceled-during-3ds-after-it-succeeded',
    description:
      'the customer cancels during 3-D Secure after passing it with no message yet: the cancel finds the PaymentIntent succeeded, so the charge is refunded',
    expect: 'refunded',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }), {
        authenticationWaitTimeoutMs: 10 * 60 * 1000,
        stripeRecheckIntervalMs: 10 * 60 * 1000,
      });
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
      return handle;
    },
  },
  {
    name: 'failed-during-3ds-two-undone',
    description:
      'a step fails for good while 3-D Secure is pending (Stripe refuses the read of the payment outcome): both outstanding compensations run, newest first (cancel the PaymentIntent, then the refund, which finds nothing to refund)',
    expect: 'failed',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }), {
        authenticationWaitTimeoutMs: 10 * 60 * 1000,
        stripeRecheckIntervalMs: 10 * 60 * 1000,
      });
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await emulatorControl(env.emulatorUrl).fault({
        match: { method: 'GET', pathRegex: `^/v1/payment_intents/${paymentIntentId}$` },
        times: 1,
        action: {
          type: 'status',
          status: 400,
          errorType: 'invalid_request_error',
          code: 'parameter_invalid',
        },
      });
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      return handle;
    },
  },
  {
    name: 'compensation-failed',
    description:
      'an undo that fails for good (the cancel of the open PaymentIntent, as after its 7-day retry window): the workflow fails loudly with CompensationFailed, the row keeps its in-flight status',
    expect: { workflowFails: 'CompensationFailed' },
    run: async (env) => {
      // The cancel of the open PaymentIntent fails for good on this worker; the rest are the real activities.
      const worker = await env.workerWith({ cancelPaymentIntent: undoFailsForGood });
      const { start } = await env.record(await env.shopper({ card: 'pm_card_authenticationRequired' }));
      const handle = await start({
        taskQueue: worker.taskQueue,
        timeouts: { authenticationWaitTimeoutMs: 10 * 60 * 1000 },
      });
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await emulatorControl(env.emulatorUrl).fault({
        match: { method: 'GET', pathRegex: `^/v1/payment_intents/${paymentIntentId}$` },
        times: 1,
        action: {
          type: 'status',
          status: 400,
          errorType: 'invalid_request_error',
          code: 'parameter_invalid',
        },
      });
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      openPaymentIntents.push(paymentIntentId);
      return handle;
    },
    // The failed undo left the PaymentIntent open (the customer could still pay it): an operator's job,
    // done here so the capture leaves no money at stake.
    cleanUp: async (env) => {
      for (const id of openPaymentIntents.splice(0)) await env.stripe.paymentIntents.cancel(id);
    },
  },
  {
    name: 'refunded-crediting-failed',
    description: 'the customer is deleted after the charge: crediting refused, the charge refunded',
    expect: 'refunded',
    run: async (env) => {
      const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
      const { handle } = await env.buy(shopper);
      const paymentIntentId = (await env.reaches(handle, 'requires_action')).paymentIntentId as string;
      await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
      await authenticateOnSession(env, paymentIntentId, 'succeed');
      await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
      return handle;
    },
  },
  {
    name: 'canceled-before-charge-by-customer',
    description: 'the customer cancels (update) while the purchase waits for a card: canceled',
    expect: 'canceled',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper());
      await env.reaches(handle, 'awaiting_payment_method');
      await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
      return handle;
    },
  },
  {
    name: 'canceled-before-charge-by-operator',
    description: 'an operator cancels (Temporal cancellation) while the purchase waits for a card: canceled',
    expect: 'canceled',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper());
      await env.reaches(handle, 'awaiting_payment_method');
      await handle.cancel();
      return handle;
    },
  },
  {
    name: 'canceled-during-3ds-by-customer',
    description: 'the customer cancels while 3-D Secure is pending: canceled, PaymentIntent canceled',
    expect: 'canceled',
    run: async (env) => {
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_authenticationRequired' }));
      await env.reaches(handle, 'requires_action');
      await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
      return handle;
    },
  },
  {
    name: 'canceled-after-charge-by-operator',
    description: 'an operator cancels while the charge is in flight: the charge completes, then is refunded',
    expect: 'refunded',
    run: async (env) => {
      await stallNextCharge(env);
      const { handle } = await env.buy(await env.shopper({ card: 'pm_card_visa' }));
      await env.reaches(handle, 'charging');
      await handle.cancel();
      return handle;
    },
  },
];

function parseArgs(argv: string[]): { only: Set<string> | null; out: string } {
  let only: Set<string> | null = null;
  let out = HISTORIES_DIR;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--only') only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else if (arg === '--out') out = path.resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument ${arg}\nusage: capture-histories [--only flow,flow] [--out dir]`);
  }
  if (only) {
    const unknown = [...only].filter((name) => !flows.some((f) => f.name === name));
    if (unknown.length) throw new Error(`unknown flow(s): ${unknown.join(', ')}`);
  }
  return { only, out };
}

/** `<flow>.json`, or a dated new generation beside it: existing captures are never overwritten. */
function targetFile(dir: string, flow: string, capturedAt: Date): string {
  const first = path.join(dir, `${flow}.json`);
  if (!existsSync(first)) return first;
  const day = capturedAt.toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, `${flow}.${day}${n === 1 ? '' : `-${n}`}.json`);
    if (!existsSync(candidate)) return candidate;
  }
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const { only, out } = args;
  const selected = flows.filter((f) => !only || only.has(f.name));
  const sdkVersion = (
    createRequire(import.meta.url)('@temporalio/worker/package.json') as { version: string }
  ).version;
  const config = testConfig();
  const log = (line: string) => console.log(`[stack:test] ${line}`);
  const started = await stackUp(config, log);
  let env: PurchaseEnv | undefined;
  try {
    // A private emulator: the stall fault of the cancel-after-charge flow must hit only this run.
    env = await purchaseEnv({ privateEmulator: true });
    await mkdir(out, { recursive: true });
    const bundle = await workflowBundle();
    for (const flow of selected) {
      const began = Date.now();
      const handle = await flow.run(env);
      const ended = await handle.result().then(
        (result: unknown) => (result as PurchaseState).status as string,
        (error: unknown) => {
          if (error instanceof WorkflowContinuedAsNewError) return 'continued as new';
          const cause = (error as { cause?: { type?: string } }).cause;
          if (error instanceof WorkflowFailedError && cause?.type) return `workflow failed: ${cause.type}`;
          throw error;
        },
      );
      const expected =
        typeof flow.expect === 'string'
          ? flow.expect
          : 'continuedAsNew' in flow.expect
            ? 'continued as new'
            : `workflow failed: ${flow.expect.workflowFails}`;
      if (ended !== expected) {
        await flow.cleanUp?.(env);
        throw new Error(`${flow.name}: ended ${ended}, expected ${expected}; not saved`);
      }
      const history = await handle.fetchHistory();
      const json = historyToJson(history);
      // What is stored must read back and replay against the code that produced it, or it is useless.
      await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJson(json), handle.workflowId);
      const capturedAt = new Date();
      const file = targetFile(out, flow.name, capturedAt);
      const stored = {
        workflowId: handle.workflowId,
        flow: flow.name,
        description: flow.description,
        finalStatus: ended,
        capturedAt: capturedAt.toISOString(),
        sdkVersion,
        history: json,
      };
      await writeFile(file, `${JSON.stringify(stored, null, 2)}\n`);
      await flow.cleanUp?.(env);
      console.log(
        `[capture] ${flow.name}: ${ended}, ${history.events?.length ?? 0} events, ${Date.now() - began} ms → ${path.relative(root, file)}`,
      );
    }
    return 0;
  } finally {
    await env?.close();
    await stackDown(config, log, started);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
