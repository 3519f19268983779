import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentOutcomeSignal, purchaseStatusQuery } from '../../src/workflows';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { activityRan } from '../support/history';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

/** A purchase with a 3-D Secure card, waiting in requires_action; returns what the portal would get. */
async function waitingForAuthentication(options: { authenticationWaitTimeoutMs?: number } = {}) {
  const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
  const { purchaseId, handle } = await env.buy(shopper, options);
  const waiting = await env.reaches(handle, 'requires_action');
  expect(waiting.nextAction).toMatchObject({
    type: 'authenticate',
    clientSecret: expect.stringMatching(/^pi_.+_secret_/),
  });
  const row = await env.row(purchaseId);
  expect(row.stripe_payment_intent_id).toBe(waiting.paymentIntentId);
  if (!options.authenticationWaitTimeoutMs) {
    expect(row).toMatchObject({ status: 'requires_action', next_action: waiting.nextAction });
  }
  return { shopper, purchaseId, handle, paymentIntentId: waiting.paymentIntentId as string };
}

/** The customer, on-session, confirms the PaymentIntent and passes (or fails) 3-D Secure. */
async function authenticateOnSession(paymentIntentId: string, outcome: 'succeed' | 'fail') {
  // After the off-session failure Stripe keeps the card in last_payment_error; Stripe.js confirms with it.
  const paymentIntent = await env.stripe.paymentIntents.retrieve(paymentIntentId);
  const card = paymentIntent.last_payment_error?.payment_method?.id;
  expect(card).toMatch(/^pm_/);
  const onSession = await env.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: card });
  expect(onSession.status).toBe('requires_action');
  await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, outcome);
}

describe('a card that needs 3-D Secure', () => {
  it('a step failing for good while waiting cancels the open PaymentIntent: a failed purchase cannot be paid later', async () => {
    const { shopper, purchaseId, handle, paymentIntentId } = await waitingForAuthentication();
    // Reading the outcome fails for good once (400: a non-retryable Stripe refusal).
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'GET', pathRegex: `^/v1/payment_intents/${paymentIntentId}$` },
      times: 1,
      action: { type: 'status', status: 400 },
    });
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
    const result = await handle.result();
    expect(result.status).toBe('failed');
    expect(result.failure?.code).toBe('payment_failed');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(stripe.refunds).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
    // The customer's late confirmation is refused by Stripe: nothing can be charged any more.
    const late = await env.stripe.paymentIntents
      .confirm(paymentIntentId)
      .catch((error: { code?: string }) => error);
    expect(late).toMatchObject({ code: 'payment_intent_unexpected_state' });
  });

  it('off-session charge → requires_action → authenticated → credited → completed', async () => {
    const { shopper, purchaseId, handle, paymentIntentId } = await waitingForAuthentication();
    await authenticateOnSession(paymentIntentId, 'succeed');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['succeeded']);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    const transitions = await env.sql<{ to: string }[]>`
      select to_status as to from purchase_transitions where purchase_id = ${purchaseId} order by id`;
    expect(transitions.map((t) => t.to)).toEqual([
      'pending',
      'charging',
      'requires_action',
      'crediting',
      'completed',
    ]);
  });

  it('a success message that Stripe does not confirm is not credited', async () => {
    const { handle, paymentIntentId } = await waitingForAuthentication();
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' }); // forged / early
    await activityRan(handle, 'getPaymentIntentStatus');
    await authenticateOnSession(paymentIntentId, 'succeed');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
    expect((await handle.result()).status).toBe('completed');
  });

  it('the off-session failure event (authentication_required) is not taken for the customer failing', async () => {
    const { handle, paymentIntentId } = await waitingForAuthentication();
    // What a webhook receiver without a filter would forward: payment_intent.payment_failed for the
    // off-session attempt that put the purchase in requires_action.
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'failed' });
    await activityRan(handle, 'getPaymentIntentStatus');
    expect((await handle.query(purchaseStatusQuery)).status).toBe('requires_action');
    await authenticateOnSession(paymentIntentId, 'succeed');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });
    expect((await handle.result()).status).toBe('completed');
  });

  it('authentication failed → failed authentication_failed, PaymentIntent canceled, nothing charged', async () => {
    const { shopper, purchaseId, handle, paymentIntentId } = await waitingForAuthentication();
    await authenticateOnSession(paymentIntentId, 'fail');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'failed' });
    const result = await handle.result();
    expect(result.status).toBe('failed');
    expect(result.failure?.code).toBe('authentication_failed');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });

  it('never authenticated → expired authentication_timeout, PaymentIntent canceled', async () => {
    const { shopper, purchaseId, handle } = await waitingForAuthentication({
      authenticationWaitTimeoutMs: 1_500,
    });
    const result = await handle.result();
    expect(result.status).toBe('expired');
    expect(result.failure?.code).toBe('authentication_timeout');
    expect(await env.row(purchaseId)).toMatchObject({ status: 'expired', next_action: null });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });
});
