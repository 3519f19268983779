import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/activities/failures';
import { claimPurchase } from '../../src/db/purchase-status';
import { isTerminalPurchaseStatus, type PurchaseStatus } from '../../src/domain/purchase-states';
import { paymentMethodAddedSignal } from '../../src/workflows';
import { ONE_MARKER_PATCH } from '../../src/workflows/purchase/workflow';
import { holdCustomerRow } from '../support/customer-lock';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { patchIdsOf, scheduledActivities } from '../support/history';
import { type PurchaseEnv, purchaseEnv, type Shopper } from '../support/purchase-env';
import { waitFor } from '../support/wait';

/**
 * The card-on-file purchase's round trips to Temporal (issue 16): eligibility runs as a local activity,
 * the charge activity records `charging` before it asks Stripe, and the grant's transaction records
 * `crediting` and `completed`, so no status write is an activity of its own. The row, its transitions and
 * its events are what they were; the stored histories of the old path replay in test/replay.
 */

// A private emulator: the stall fault below must not touch other test files' requests.
let env: PurchaseEnv;
let activities: ReturnType<typeof createActivities>;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
  activities = createActivities({ config: env.config, sql: env.sql, stripe: env.stripe });
});
afterAll(async () => {
  if (!env) return;
  try {
    await settleDrivenPurchases();
  } finally {
    await env.close();
  }
});

/** The purchases this file drives by hand, activity by activity: no workflow settles them. */
const driven: { purchaseId: string; runId: string; stripeCustomerId: string }[] = [];

/**
 * Settles what the tests left open, as the workflow's compensation would, so that no purchase of the
 * run stays open (the suite's closing invariant check would find it stuck): whatever was charged is
 * refunded through the refund activity and the purchase ends `refunded`; one never charged ends
 * `failed` from crediting, `canceled` before it.
 */
async function settleDrivenPurchases(): Promise<void> {
  for (const { purchaseId, runId, stripeCustomerId } of driven) {
    const row = await env.row(purchaseId);
    if (isTerminalPurchaseStatus(row.status)) continue;
    const run = asRun(runId);
    const { refundId } = (await run.run(activities.refundPayment, {
      purchaseId,
      paymentIntentId: null, // found by the purchase's metadata (one test records a made-up id)
      stripeCustomerId,
      amountCents: row.price_cents,
    })) as { refundId: string | null };
    const status: PurchaseStatus = refundId ? 'refunded' : row.status === 'crediting' ? 'failed' : 'canceled';
    await run.run(activities.recordPurchaseStatus, {
      purchaseId,
      status,
      nextAction: null,
      failure: { code: 'canceled', message: 'Settled by the test file after its checks.' },
      refundId,
    });
    expect((await env.row(purchaseId)).status).toBe(status);
  }
}

async function faultHits(): Promise<number> {
  const response = await fetch(`${env.emulatorUrl}/_emulator/faults`);
  const faults = (await response.json()) as { hits?: number }[] | { faults: { hits?: number }[] };
  const list = Array.isArray(faults) ? faults : faults.faults;
  return list.reduce((sum, fault) => sum + (fault.hits ?? 0), 0);
}

async function transitionsOf(purchaseId: string) {
  return env.sql<{ from: string | null; to: string; at: Date }[]>`
    select from_status as from, to_status as to, created_at as at
      from purchase_transitions where purchase_id = ${purchaseId} order by id`;
}

async function eventTypesOf(purchaseId: string): Promise<string[]> {
  const rows = await env.sql<{ type: string }[]>`
    select type from events where purchase_id = ${purchaseId} order by created_at, id`;
  return rows.map((r) => r.type);
}

/** A recorded purchase claimed by `runId`, with the card on file Stripe holds for the shopper. */
async function claimedPurchase(shopper: Shopper, runId: string) {
  const { purchaseId } = await env.record(shopper);
  expect(await claimPurchase(env.sql, purchaseId, runId)).toEqual({ claimed: true });
  driven.push({ purchaseId, runId, stripeCustomerId: shopper.stripeCustomerId as string });
  const customer = await env.stripe.customers.retrieve(shopper.stripeCustomerId as string);
  if (customer.deleted) throw new Error('the shopper has no Stripe customer');
  const paymentMethodId = customer.invoice_settings.default_payment_method as string;
  return { purchaseId, paymentMethodId };
}

type ChargeResult = ReturnType<ReturnType<typeof createActivities>['chargeOffSession']>;
type GrantResult = ReturnType<ReturnType<typeof createActivities>['grantPurchasedCredits']>;

/** Runs an activity as the given workflow run would (its run id is what the claim checks). */
function asRun(runId: string) {
  return new MockActivityEnvironment({
    workflowExecution: { workflowId: `test-${runId}`, runId },
    activityType: 'test',
  });
}

/** The charge activity as the run would call it past the status-writes patch (it records `charging`). */
function chargeAsRun(runId: string, shopper: Shopper, purchaseId: string, paymentMethodId: string) {
  return asRun(runId).run(activities.chargeOffSession, {
    purchaseId,
    organizationId: shopper.organizationId,
    stripeCustomerId: shopper.stripeCustomerId as string,
    paymentMethodId,
    amountCents: shopper.packPriceCents,
    currency: 'usd' as const,
    recordCharging: { setupIntentId: null },
  }) as ChargeResult;
}

async function typedFailureOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return (error as ApplicationFailure).type ?? undefined;
}

describe('a card-on-file purchase, as the workflow runs it now', () => {
  it('records charging in the charge activity before Stripe is asked, and makes 4 workflow tasks', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    // The charge request stalls in Stripe: what the row says while Stripe holds it is what was written
    // before the request.
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'POST', path: '/v1/payment_intents' },
      times: 1,
      action: { type: 'stall', ms: 1_500 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    await waitFor(async () => (await faultHits()) >= 1, 'the charge request to reach Stripe');
    expect((await stripeRecordsOf(env.emulatorUrl, purchaseId)).paymentIntents).toHaveLength(0); // stalled
    expect((await env.row(purchaseId)).status).toBe('charging');
    const during = (await handle.fetchHistory()).events ?? [];
    expect(scheduledActivities(during)).toEqual(['ensureStripeCustomer', 'chargeOffSession']);

    const result = await handle.result();
    expect(result.status).toBe('completed');
    const { runId } = await handle.describe();
    const row = await env.row(purchaseId);
    expect(row).toMatchObject({
      status: 'completed',
      stripe_payment_intent_id: result.paymentIntentId,
      // the local activity claimed the purchase with its workflow run's id
      workflow_run_id: runId,
    });

    const events = (await handle.fetchHistory()).events ?? [];
    const markers = events
      .filter((e) => e.markerRecordedEventAttributes)
      .map((e) => e.markerRecordedEventAttributes?.markerName);
    const patchIds = patchIdsOf(events);
    // One marker stands for every earlier patch's new path (it was one per patch taken: three).
    expect(patchIds).toEqual([ONE_MARKER_PATCH]);
    expect(markers.filter((name) => name === 'core_local_activity')).toHaveLength(1);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(3);
    // The status upserts: charging and completed (crediting's is gone). The SDK also upserts
    // TemporalChangeVersion with the patch's marker (until the patch is removed).
    const upserted = events
      .map((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields)
      .filter((fields) => fields != null)
      .map((fields) => Object.keys(fields ?? {}).join(','));
    expect(upserted).toEqual([
      'TemporalChangeVersion',
      'CreditPackPurchaseStatus',
      'CreditPackPurchaseStatus',
    ]);
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(4);
    expect(events).toHaveLength(28);
  });

  it('records crediting and completed in the grant transaction: transitions and events as before', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');

    const transitions = await transitionsOf(purchaseId);
    expect(transitions.map((t) => [t.from, t.to])).toEqual([
      [null, 'pending'],
      ['pending', 'charging'],
      ['charging', 'crediting'],
      ['crediting', 'completed'],
    ]);
    // created_at is the transaction's start: crediting and completed were written by one transaction,
    // charging by another.
    const [, charging, crediting, completed] = transitions;
    expect(crediting?.at.getTime()).toBe(completed?.at.getTime());
    expect(charging?.at.getTime()).not.toBe(crediting?.at.getTime());
    // One event per transition the events trigger lists, as when crediting was a write of its own.
    expect(await eventTypesOf(purchaseId)).toEqual(['purchase.completed']);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });
});

describe('a purchase that must ask for a card, as the workflow runs it now', () => {
  it('asks Stripe for the SetupIntent in the card-on-file step: one activity fewer, one marker', async () => {
    const shopper = await env.shopper(); // no card, no Stripe customer yet
    const { purchaseId, handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'awaiting_payment_method');
    expect(waiting.nextAction).toMatchObject({
      type: 'add_payment_method',
      clientSecret: expect.stringMatching(/^seti_.+_secret_/),
    });
    const row = await env.row(purchaseId);
    expect(row).toMatchObject({
      status: 'awaiting_payment_method',
      stripe_setup_intent_id: waiting.setupIntentId,
      next_action: waiting.nextAction,
    });
    // Exactly one SetupIntent for the purchase, and no createSetupIntent activity: the card-on-file
    // step made it.
    const asked = (await stripeRecordsOf(env.emulatorUrl, purchaseId)).setupIntents;
    expect(asked.map((s) => s.id)).toEqual([waiting.setupIntentId]);
    const parked = (await handle.fetchHistory()).events ?? [];
    expect(scheduledActivities(parked)).toEqual(['ensureStripeCustomer', 'recordPurchaseStatus']);

    const setupIntentId = waiting.setupIntentId as string;
    await env.stripe.setupIntents.confirm(setupIntentId, { payment_method: 'pm_card_visa' });
    await handle.signal(paymentMethodAddedSignal, { setupIntentId });
    expect((await handle.result()).status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const events = (await handle.fetchHistory()).events ?? [];
    const patchIds = patchIdsOf(events);
    // The card wait's re-reads ('recheck-stripe-during-waits') are taken without a marker of their own.
    expect(patchIds).toEqual([ONE_MARKER_PATCH]);
  });
});

describe('the charge activity recording charging', () => {
  it('is idempotent on retry: the second attempt changes no status and charges nothing more', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId, paymentMethodId } = await claimedPurchase(shopper, runId);
    const charge = () => chargeAsRun(runId, shopper, purchaseId, paymentMethodId);
    const first = await charge();
    const second = await charge();
    expect(second.paymentIntentId).toBe(first.paymentIntentId);
    expect((await transitionsOf(purchaseId)).map((t) => t.to)).toEqual(['pending', 'charging']);
    expect((await env.row(purchaseId)).status).toBe('charging');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.paymentIntents[0]?._emulator.creates).toBe(1);
  });

  it('charges nothing for another run, nor for a purchase the transition table keeps from charging', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const owner = randomUUID();
    const { purchaseId, paymentMethodId } = await claimedPurchase(shopper, owner);
    const request = {
      purchaseId,
      organizationId: shopper.organizationId,
      stripeCustomerId: shopper.stripeCustomerId as string,
      paymentMethodId,
      amountCents: shopper.packPriceCents,
      currency: 'usd' as const,
      recordCharging: { setupIntentId: null },
    };
    expect(await typedFailureOf(asRun(randomUUID()).run(activities.chargeOffSession, request))).toBe(
      FailureType.PurchaseClaimedElsewhere,
    );
    await env.sql`update purchases set status = 'failed' where id = ${purchaseId}`;
    expect(await typedFailureOf(asRun(owner).run(activities.chargeOffSession, request))).toBe(
      FailureType.PurchaseTransitionRefused,
    );
    expect((await stripeRecordsOf(env.emulatorUrl, purchaseId)).paymentIntents).toHaveLength(0);
    expect((await env.row(purchaseId)).status).toBe('failed');
  });
});

describe('the grant recording crediting', () => {
  it('moves charging → crediting → completed once, with the PaymentIntent; a retry replays it', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId, paymentMethodId } = await claimedPurchase(shopper, runId);
    const { paymentIntentId } = await chargeAsRun(runId, shopper, purchaseId, paymentMethodId);
    const input = { purchaseId, recordCrediting: { paymentIntentId } };
    const grant = () => asRun(runId).run(activities.grantPurchasedCredits, input) as GrantResult;
    const first = await grant();
    const again = await grant();
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ ledgerEntryId: first.ledgerEntryId, replayed: true });
    expect((await transitionsOf(purchaseId)).map((t) => t.to)).toEqual([
      'pending',
      'charging',
      'crediting',
      'completed',
    ]);
    expect(await env.row(purchaseId)).toMatchObject({
      status: 'completed',
      stripe_payment_intent_id: paymentIntentId,
    });
    expect(await eventTypesOf(purchaseId)).toEqual(['purchase.completed']);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });

  it('two attempts at once (a retry overlapping a slow attempt): one grants, the other replays it', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId, paymentMethodId } = await claimedPurchase(shopper, runId);
    const { paymentIntentId } = await chargeAsRun(runId, shopper, purchaseId, paymentMethodId);
    const input = { purchaseId, recordCrediting: { paymentIntentId } };
    // Both attempts wait on the customer's row, held here; released, the second finds the first's grant
    // only because it reads the ledger in a statement of its own, after its lock wait.
    const held = await holdCustomerRow(env.sql, shopper.customerId);
    const attempts = [1, 2].map(
      () => asRun(runId).run(activities.grantPurchasedCredits, input) as GrantResult,
    );
    await waitFor(
      async () =>
        (
          await env.sql`
            select 1 from pg_stat_activity
             where wait_event_type = 'Lock' and query like '%for update of p, c%'`
        ).length >= 2,
      'both attempts to wait on the lock',
    );
    await held.release();
    const results = await Promise.all(attempts);
    expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
    expect(results[0]?.ledgerEntryId).toBe(results[1]?.ledgerEntryId);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    expect((await transitionsOf(purchaseId)).map((t) => t.to)).toEqual([
      'pending',
      'charging',
      'crediting',
      'completed',
    ]);
  });

  it('holds the share of a dispute opened before the grant, read under the grant lock', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId, paymentMethodId } = await claimedPurchase(shopper, runId);
    const { paymentIntentId } = await chargeAsRun(runId, shopper, purchaseId, paymentMethodId);
    // Half the price disputed before the credits were granted (its event outran the charge's answer).
    await env.sql`
      update purchases set dispute_status = 'open',
             dispute_amount_cents = ${shopper.packPriceCents / 2}
       where id = ${purchaseId}`;
    const grant = (await asRun(runId).run(activities.grantPurchasedCredits, {
      purchaseId,
      recordCrediting: { paymentIntentId },
    })) as Awaited<GrantResult>;
    expect(grant.replayed).toBe(false);
    const ledger = await env.sql<{ kind: string; credits: number }[]>`
      select kind, credits from credit_ledger where purchase_id = ${purchaseId} order by id`;
    expect(ledger).toEqual([
      { kind: 'purchase_grant', credits: 500 },
      { kind: 'dispute_hold', credits: -250 },
    ]);
    expect((await env.row(purchaseId)) as unknown).toMatchObject({
      status: 'completed',
      dispute_credits_held: 250,
    });
  });

  it('refused for a deleted customer: crediting stands (for the refund to settle), nothing granted', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId } = await claimedPurchase(shopper, runId);
    await env.sql`update purchases set status = 'charging' where id = ${purchaseId}`;
    await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
    const paymentIntentId = `pi_test_${randomUUID().replaceAll('-', '')}`;
    const grant = asRun(runId).run(activities.grantPurchasedCredits, {
      purchaseId,
      recordCrediting: { paymentIntentId },
    });
    expect(await typedFailureOf(grant)).toBe(FailureType.CreditingRefused);
    expect(await env.row(purchaseId)).toMatchObject({
      status: 'crediting',
      stripe_payment_intent_id: paymentIntentId,
    });
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });

  it('refused for a purchase the transition table keeps from crediting: nothing written', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const runId = randomUUID();
    const { purchaseId } = await claimedPurchase(shopper, runId);
    const grant = asRun(runId).run(activities.grantPurchasedCredits, {
      purchaseId,
      recordCrediting: { paymentIntentId: null },
    });
    expect(await typedFailureOf(grant)).toBe(FailureType.CreditingRefused);
    expect((await transitionsOf(purchaseId)).map((t) => t.to)).toEqual(['pending']);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });
});
