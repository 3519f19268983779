import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentMethodAddedSignal } from '../../src/workflows';
import { stripeRecordsOf } from '../support/emulator-control';
import { activityRan } from '../support/history';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

describe('a customer without a card', () => {
  it('is asked for one (SetupIntent), adds it, and the purchase is charged and credited', async () => {
    const shopper = await env.shopper(); // no card, no Stripe customer yet
    const { purchaseId, handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'awaiting_payment_method');
    expect(waiting.nextAction).toMatchObject({
      type: 'add_payment_method',
      clientSecret: expect.stringMatching(/^seti_.+_secret_/),
    });
    const row = await env.row(purchaseId);
    expect(row.status).toBe('awaiting_payment_method');
    expect(row.next_action).toEqual(waiting.nextAction);
    expect(row.stripe_setup_intent_id).toBe(waiting.setupIntentId);

    // What Stripe.js does in the portal: confirm the SetupIntent with the card the customer typed.
    const setupIntentId = waiting.setupIntentId as string;
    const confirmed = await env.stripe.setupIntents.confirm(setupIntentId, {
      payment_method: 'pm_card_visa',
    });
    expect(confirmed.status).toBe('succeeded');
    await handle.signal(paymentMethodAddedSignal, { setupIntentId });

    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.paymentIntents[0]?.status).toBe('succeeded');
    // The card is now the customer's default, in Stripe and in our row: the next purchase needs no card step.
    const [customer] = await env.sql<{ stripeCustomerId: string; pm: string }[]>`
      select stripe_customer_id as "stripeCustomerId", default_payment_method_id as pm from customers where id = ${shopper.customerId}`;
    const stripeCustomer = await env.stripe.customers.retrieve(customer?.stripeCustomerId as string);
    expect(!stripeCustomer.deleted && stripeCustomer.invoice_settings.default_payment_method).toBe(
      customer?.pm,
    );
    const next = await env.buy(shopper);
    expect((await next.handle.result()).status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 1000, plan: 0 });
  });

  it('a "card added" message before the card is really added does not charge; the real one does', async () => {
    const shopper = await env.shopper();
    const { handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'awaiting_payment_method');
    const setupIntentId = waiting.setupIntentId as string;
    await handle.signal(paymentMethodAddedSignal, { setupIntentId }); // premature: nothing confirmed
    await handle.signal(paymentMethodAddedSignal, { setupIntentId: 'seti_not_this_purchase' });
    // Still waiting once the workflow has looked (the history shows the read of the SetupIntent).
    await activityRan(handle, 'adoptSetupIntentPaymentMethod');
    expect((await env.row(waiting.purchaseId)).status).toBe('awaiting_payment_method');

    await env.stripe.setupIntents.confirm(setupIntentId, { payment_method: 'pm_card_visa' });
    await handle.signal(paymentMethodAddedSignal, { setupIntentId });
    expect((await handle.result()).status).toBe('completed');
  });

  it('who never adds one: the purchase expires after the card wait, the SetupIntent is canceled', async () => {
    const shopper = await env.shopper();
    const { purchaseId, handle } = await env.buy(shopper, { cardWaitTimeoutMs: 1_500 });
    const result = await handle.result();
    expect(result.status).toBe('expired');
    expect(result.failure?.code).toBe('payment_method_not_added');
    const row = await env.row(purchaseId);
    expect(row).toMatchObject({
      status: 'expired',
      failure_code: 'payment_method_not_added',
      next_action: null,
    });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['canceled']);
    expect(stripe.paymentIntents).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });
});
