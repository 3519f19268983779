import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

describe('a declined card', () => {
  it('4000 0000 0000 0341 (attached, every charge declines) → failed card_declined/generic_decline, one charge attempt', async () => {
    const shopper = await env.shopper({ card: 'pm_card_chargeCustomerFail' });
    const { purchaseId, handle } = await env.buy(shopper);
    const result = await handle.result();
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({ code: 'card_declined', declineCode: 'generic_decline' });
    const row = await env.row(purchaseId);
    expect(row).toMatchObject({
      status: 'failed',
      failure_code: 'card_declined',
      failure_decline_code: 'generic_decline',
    });
    expect(row.failure_message).toMatch(/declined/i);

    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    // Exactly one attempt: a decline is not retried (a retry under the same key would only replay it).
    expect(stripe.paymentIntents[0]?._emulator.chargeAttempts).toBe(1);
    expect(stripe.paymentIntents[0]?._emulator.requests).toBe(1);
    expect(stripe.charges.map((c) => c.status)).toEqual(['failed']);
    expect(stripe.refunds).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });

    const history = await handle.fetchHistory();
    const chargeAttempts = history.events?.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeOffSession',
    );
    expect(chargeAttempts).toHaveLength(1);
    const failed = history.events?.find((e) => e.activityTaskFailedEventAttributes);
    expect(failed?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo).toMatchObject({
      type: 'CardDeclined',
      nonRetryable: true,
    });
  });

  it('a saved card whose funds ran out (as 9995 declines) → failed card_declined/insufficient_funds, one charge attempt', async () => {
    // Stripe refuses to save 9995 (see below), so a card on file declines for insufficient funds only after
    // it was saved: the emulator's issuer starts declining the saved 4242 card with insufficient_funds.
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const customer = (await env.stripe.customers.retrieve(
      shopper.stripeCustomerId as string,
    )) as Stripe.Customer;
    const savedCard = customer.invoice_settings.default_payment_method as string;
    await emulatorControl(env.emulatorUrl).declineCharges(savedCard, 'insufficient_funds');

    const { purchaseId, handle } = await env.buy(shopper);
    const result = await handle.result();
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({ code: 'card_declined', declineCode: 'insufficient_funds' });
    expect(await env.row(purchaseId)).toMatchObject({
      status: 'failed',
      failure_code: 'card_declined',
      failure_decline_code: 'insufficient_funds',
    });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.paymentIntents[0]?._emulator.chargeAttempts).toBe(1);
    expect(stripe.charges.map((c) => c.status)).toEqual(['failed']);
    expect(stripe.refunds).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });

  it('4000 0000 0000 9995 recorded as the card on file → failed card_declined/insufficient_funds, nothing charged', async () => {
    // Stripe validates a card when it is attached, so an insufficient-funds card cannot be saved; a card
    // recorded on our side only (POST /v1/customers defaultPaymentMethodId) is declined when the purchase
    // attaches it, and the purchase fails with Stripe's decline code.
    const shopper = await env.shopper({ recordedCard: 'pm_card_visa_chargeDeclinedInsufficientFunds' });
    const { purchaseId, handle } = await env.buy(shopper);
    const result = await handle.result();
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({ code: 'card_declined', declineCode: 'insufficient_funds' });
    expect(await env.row(purchaseId)).toMatchObject({ failure_decline_code: 'insufficient_funds' });
    expect((await stripeRecordsOf(env.emulatorUrl, purchaseId)).paymentIntents).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });

  it('a card recorded on our side that Stripe accepts is attached on the first purchase and charged', async () => {
    const shopper = await env.shopper({ recordedCard: 'pm_card_visa', subscriptionStatus: 'trialing' });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['succeeded']);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });
});
