import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelPurchaseUpdate } from '../../src/workflows';
import { ONE_MARKER_PATCH } from '../../src/workflows/purchase/workflow';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { activityRan, patchIdsOf } from '../support/history';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';

/**
 * Both messages lost: the emulator of this file delivers no webhooks at all and nobody signals the
 * workflow, as if the webhook and the portal's message were both lost. The waits re-read Stripe after
 * STRIPE_RECHECK_INTERVAL_MS (1 s here), the interval doubling after each re-read up to
 * STRIPE_RECHECK_MAX_INTERVAL_MS (an hour by default), and carry on long before their timeouts
 * (10 minutes here).
 */

const TEN_MINUTES_MS = 10 * 60 * 1000;
const waits = {
  cardWaitTimeoutMs: TEN_MINUTES_MS,
  authenticationWaitTimeoutMs: TEN_MINUTES_MS,
  stripeRecheckIntervalMs: 1_000,
};

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

async function history(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  return {
    signals: events.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
    patches: patchIdsOf(events),
  };
}

/** The durations of the workflow's timers so far, in ms, in the order they were started. */
async function timerDurationsMs(handle: WorkflowHandle): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? [Number(timeout.seconds ?? 0) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6)] : [];
  });
}

describe('a purchase whose messages are lost re-reads Stripe while it waits', () => {
  it('waits twice as long after each re-read, up to the maximum interval', async () => {
    const shopper = await env.shopper();
    const { purchaseId, handle } = await env.buy(shopper, { ...waits, stripeRecheckMaxIntervalMs: 4_000 });
    await env.reaches(handle, 'awaiting_payment_method');
    // Re-reads at 1, 3 and 7 s; the fourth wait is capped at 4 s.
    await activityRan(handle, 'adoptSetupIntentPaymentMethod', { times: 3 });
    await waitFor(async () => (await timerDurationsMs(handle)).length >= 4, 'the fourth timer', 10_000);
    expect((await timerDurationsMs(handle)).slice(0, 4)).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect((await env.row(purchaseId)).status).toBe('awaiting_payment_method');
    await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
    expect((await handle.result()).status).toBe('canceled');
  });

  it('with the maximum equal to the first interval, re-reads at a fixed interval (what purchases started before the doubling do)', async () => {
    const shopper = await env.shopper();
    const { handle } = await env.buy(shopper, { ...waits, stripeRecheckMaxIntervalMs: 1_000 });
    await env.reaches(handle, 'awaiting_payment_method');
    await activityRan(handle, 'adoptSetupIntentPaymentMethod', { times: 3 });
    expect((await timerDurationsMs(handle)).slice(0, 3)).toEqual([1_000, 1_000, 1_000]);
    await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
    expect((await handle.result()).status).toBe('canceled');
  });

  it('a card added in Stripe with no message reaches the purchase: charged and credited long before the card wait ends', async () => {
    const shopper = await env.shopper();
    const { purchaseId, handle } = await env.buy(shopper, waits);
    const waiting = await env.reaches(handle, 'awaiting_payment_method');
    // Nothing to notice yet: the re-reads find the SetupIntent still waiting, and the purchase waits on.
    await activityRan(handle, 'adoptSetupIntentPaymentMethod', { times: 2 });
    expect((await env.row(purchaseId)).status).toBe('awaiting_payment_method');

    // The customer adds the card (what Stripe.js does); no webhook, no signal.
    await env.stripe.setupIntents.confirm(waiting.setupIntentId as string, {
      payment_method: 'pm_card_visa',
    });
    const completed = await env.reaches(handle, 'completed', 20_000);
    expect(completed.failure).toBeNull();
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['succeeded']);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['succeeded']);
    const { signals, patches } = await history(handle);
    expect(signals).toBe(0);
    // The re-reads ('recheck-stripe-during-waits') and the round-trip patches are taken under the one
    // marker, without markers of their own.
    expect(patches).toEqual([ONE_MARKER_PATCH]);
  });

  it('3-D Secure passed with no message: the re-read finds the payment succeeded, credited once', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper, waits);
    const waiting = await env.reaches(handle, 'requires_action');
    const paymentIntentId = waiting.paymentIntentId as string;
    await activityRan(handle, 'getPaymentIntentStatus', { times: 2 });
    expect((await env.row(purchaseId)).status).toBe('requires_action');

    // The customer confirms on-session and passes 3-D Secure; no webhook, no signal.
    const card = (await env.stripe.paymentIntents.retrieve(paymentIntentId)).last_payment_error
      ?.payment_method?.id;
    await env.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: card as string });
    await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, 'succeed');
    await env.reaches(handle, 'completed', 20_000);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect(stripe.refunds).toHaveLength(0);
    expect((await history(handle)).signals).toBe(0);
  });

  it('3-D Secure failed with no message: re-reads do not fail it early; it expires at its deadline, PaymentIntent canceled', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper, {
      ...waits,
      authenticationWaitTimeoutMs: 10_000,
    });
    const waiting = await env.reaches(handle, 'requires_action');
    const paymentIntentId = waiting.paymentIntentId as string;
    const card = (await env.stripe.paymentIntents.retrieve(paymentIntentId)).last_payment_error
      ?.payment_method?.id;
    await env.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: card as string });
    await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, 'fail');
    // The re-reads keep running after the failed attempt and leave the purchase waiting.
    await activityRan(handle, 'getPaymentIntentStatus', { times: 3 });
    expect((await env.row(purchaseId)).status).toBe('requires_action');
    const result = await handle.result();
    expect(result.status).toBe('expired');
    expect(result.failure?.code).toBe('authentication_timeout');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });
});
