/** Emulator-only: signed webhooks, at-least-once delivery with retries, duplicates, delay, reorder, withhold. */
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type EmulatorFixture,
  startEmulatorFixture,
  startWebhookReceiver,
  WEBHOOK_SECRET,
  type WebhookReceiver,
  waitFor,
} from './helpers';

let fx: EmulatorFixture;
let receiver: WebhookReceiver;
const RETRY_BASE_MS = 20;
const MAX_ATTEMPTS = 4;
const verifier = new Stripe('sk_test_unused');

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  fx = await startEmulatorFixture({
    webhookUrls: [receiver.url],
    webhookRetryBaseMs: RETRY_BASE_MS,
    webhookMaxAttempts: MAX_ATTEMPTS,
  });
});
afterAll(async () => {
  await fx?.handle.close();
  await receiver?.close();
});
beforeEach(async () => {
  await fx.control('POST', '/_emulator/reset');
  receiver.received.length = 0;
  receiver.setResponder(() => 200);
});

async function succeededCharge() {
  const customer = await fx.stripe.customers.create({});
  const pm = await fx.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
  return fx.stripe.paymentIntents.create({
    amount: 2000,
    currency: 'usd',
    customer: customer.id,
    payment_method: pm.id,
    confirm: true,
    off_session: true,
  });
}

describe('signatures', () => {
  it('every delivery verifies with stripe.webhooks.constructEvent; a tampered one does not', async () => {
    const pi = await succeededCharge();
    const delivery = await waitFor(
      () => receiver.ofType('payment_intent.succeeded').find((r) => r.event.data.object.id === pi.id),
      'payment_intent.succeeded delivery',
    );
    expect(delivery.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = verifier.webhooks.constructEvent(delivery.rawBody, delivery.signature, WEBHOOK_SECRET);
    expect(event.type).toBe('payment_intent.succeeded');
    expect((event.data.object as Stripe.PaymentIntent).id).toBe(pi.id);
    expect(event.id).toMatch(/^evt_/);

    const tampered = delivery.rawBody.replace('"amount": 2000', '"amount": 1');
    expect(tampered).not.toBe(delivery.rawBody);
    expect(() => verifier.webhooks.constructEvent(tampered, delivery.signature, WEBHOOK_SECRET)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(() =>
      verifier.webhooks.constructEvent(delivery.rawBody, delivery.signature, 'whsec_wrong'),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
    for (const r of receiver.received) {
      expect(() => verifier.webhooks.constructEvent(r.rawBody, r.signature, WEBHOOK_SECRET)).not.toThrow();
    }
  });

  it('sends the events the product listens to', async () => {
    const customer = await fx.stripe.customers.create({});
    const si = await fx.stripe.setupIntents.create({
      customer: customer.id,
      usage: 'off_session',
      allowed_payment_method_types: ['card'],
    });
    await fx.stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_visa' });
    const si2 = await fx.stripe.setupIntents.create({
      customer: customer.id,
      allowed_payment_method_types: ['card'],
    });
    await fx.stripe.setupIntents
      .confirm(si2.id, { payment_method: 'pm_card_chargeDeclined' })
      .catch(() => undefined);
    const pi = await succeededCharge();
    await fx.stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const failing = await fx.stripe.paymentMethods.attach('pm_card_chargeCustomerFail', {
      customer: customer.id,
    });
    await fx.stripe.paymentIntents
      .create({
        amount: 1000,
        currency: 'usd',
        customer: customer.id,
        payment_method: failing.id,
        confirm: true,
        off_session: true,
      })
      .catch(() => undefined);
    const threeDs = await fx.stripe.paymentMethods.attach('pm_card_authenticationRequired', {
      customer: customer.id,
    });
    await fx.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: customer.id,
      payment_method: threeDs.id,
      confirm: true,
    });
    const open = await fx.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await fx.stripe.paymentIntents.cancel(open.id);
    const expected = [
      'setup_intent.succeeded',
      'setup_intent.setup_failed',
      'payment_intent.succeeded',
      'payment_intent.payment_failed',
      'payment_intent.requires_action',
      'payment_intent.canceled',
      'charge.refunded',
    ];
    await waitFor(
      () => expected.every((t) => receiver.ofType(t).length > 0),
      `deliveries of ${expected.join(', ')}`,
    );
    const refunded = receiver.ofType('charge.refunded')[0]!.event as unknown as Stripe.ChargeRefundedEvent;
    expect(refunded.data.object.amount_refunded).toBe(500);
    expect(refunded.data.previous_attributes).toMatchObject({ amount_refunded: 0 });
  });
});

describe('at-least-once delivery', () => {
  it('retries after a 500 from the receiver until it answers 2xx', async () => {
    receiver.setResponder((event, attempt) =>
      event.type === 'payment_intent.succeeded' && attempt < 3 ? 500 : 200,
    );
    const pi = await succeededCharge();
    await waitFor(
      () => receiver.ofType('payment_intent.succeeded').some((r) => r.answered === 200),
      'a successful delivery after retries',
    );
    const attempts = receiver.ofType('payment_intent.succeeded');
    expect(attempts.map((a) => a.answered)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((a) => a.event.id)).size).toBe(1);
    expect(attempts[0]?.event.data.object.id).toBe(pi.id);
    const state = await fx.state();
    const event = state.events.find((e) => e.id === attempts[0]?.event.id);
    expect(event?.pending_webhooks).toBe(0);
  });

  it('gives up after the bounded number of attempts', async () => {
    receiver.setResponder((event) => (event.type === 'customer.created' ? 503 : 200));
    await fx.stripe.customers.create({});
    await waitFor(() => receiver.ofType('customer.created').length >= 4, 'four attempts');
    await waitFor(async () => (await fx.state()).webhooks.pending === 0, 'no pending delivery');
    const deliveries = await fx.control<{ deliveries: { eventType: string; attempt: number }[] }>(
      'GET',
      '/_emulator/webhooks/deliveries',
    );
    expect(receiver.ofType('customer.created')).toHaveLength(4);
    expect(
      deliveries.deliveries.filter((d) => d.eventType === 'customer.created').map((d) => d.attempt),
    ).toEqual([1, 2, 3, 4]);
  });

  it('waits longer before each retry: base × 2^(attempt-1) after attempt n', async () => {
    receiver.setResponder((event) => (event.type === 'customer.created' ? 500 : 200));
    await fx.stripe.customers.create({});
    const attempts = await waitFor(async () => {
      const d = await fx.control<{ deliveries: { eventType: string; attempt: number; at: number }[] }>(
        'GET',
        '/_emulator/webhooks/deliveries',
      );
      const mine = d.deliveries.filter((x) => x.eventType === 'customer.created');
      return mine.length === MAX_ATTEMPTS && mine;
    }, `${MAX_ATTEMPTS} attempts`);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    // `at` is when an attempt ended; the next one starts after the backoff, so each gap is at least it.
    const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i] as { at: number }).at);
    gaps.forEach((gap, i) => {
      const backoff = RETRY_BASE_MS * 2 ** i; // after attempt n = i + 1: base × 2^(n-1)
      expect(gap, `gap after attempt ${i + 1}`).toBeGreaterThanOrEqual(backoff);
      expect(gap, `gap after attempt ${i + 1}`).toBeLessThan(backoff + 1_000);
    });
    expect(gaps[2]).toBeGreaterThan(gaps[0] as number); // it grows
  });

  it('retries when the endpoint is unreachable, and a runtime-registered endpoint receives events', async () => {
    const second = await startWebhookReceiver();
    try {
      await fx.control('POST', '/_emulator/webhooks/endpoints', {
        url: 'http://127.0.0.1:9/nowhere',
        secret: 'whsec_x',
      });
      await fx.control('POST', '/_emulator/webhooks/endpoints', { url: second.url, secret: 'whsec_second' });
      const c = await fx.stripe.customers.create({});
      const got = await waitFor(
        () => second.ofType('customer.created')[0],
        'delivery to the runtime endpoint',
      );
      expect(got.event.data.object.id).toBe(c.id);
      expect(() =>
        verifier.webhooks.constructEvent(got.rawBody, got.signature, 'whsec_second'),
      ).not.toThrow();
      await waitFor(async () => {
        const d = await fx.control<{ deliveries: { url: string; error: string | null; attempt: number }[] }>(
          'GET',
          '/_emulator/webhooks/deliveries',
        );
        return d.deliveries.filter((x) => x.url.includes(':9/') && x.error !== null).length >= 2;
      }, 'failed attempts to the unreachable endpoint');
    } finally {
      await fx.control('DELETE', '/_emulator/webhooks/endpoints');
      await second.close();
    }
  });
});

describe('webhook faults', () => {
  it('duplicates: the next N events are delivered twice, same event id', async () => {
    await fx.control('POST', '/_emulator/webhooks/control', { duplicateNext: 1 });
    const c = await fx.stripe.customers.create({});
    await waitFor(() => receiver.ofType('customer.created').length === 2, 'two deliveries');
    const [a, b] = receiver.ofType('customer.created');
    expect(a?.event.id).toBe(b?.event.id);
    expect(a?.event.data.object.id).toBe(c.id);
  });

  it('resends an event on demand', async () => {
    await fx.stripe.customers.create({});
    const first = await waitFor(() => receiver.ofType('customer.created')[0], 'first delivery');
    await fx.control('POST', '/_emulator/webhooks/resend', { eventId: first.event.id });
    await waitFor(() => receiver.ofType('customer.created').length === 2, 'the resent delivery');
  });

  it('withholds, then releases in reverse order', async () => {
    await fx.control('POST', '/_emulator/webhooks/control', { withhold: true });
    const c1 = await fx.stripe.customers.create({ email: '1@example.com' });
    const c2 = await fx.stripe.customers.create({ email: '2@example.com' });
    const c3 = await fx.stripe.customers.create({ email: '3@example.com' });
    const state = await fx.state();
    expect(state.webhooks.withheld).toHaveLength(3);
    expect(receiver.received).toHaveLength(0);
    await fx.control('POST', '/_emulator/webhooks/release', { order: 'reverse' });
    await waitFor(() => receiver.ofType('customer.created').length === 3, 'three deliveries');
    expect(receiver.ofType('customer.created').map((r) => r.event.data.object.id)).toEqual([
      c3.id,
      c2.id,
      c1.id,
    ]);
  });

  it('withholds, then releases shuffled: each delivery once, one after the other', async () => {
    await fx.control('POST', '/_emulator/webhooks/control', { withhold: true });
    const created: string[] = [];
    for (let i = 0; i < 8; i++) created.push((await fx.stripe.customers.create({})).id);
    const released = await fx.control<{ released: number }>('POST', '/_emulator/webhooks/release', {
      order: 'shuffle',
    });
    expect(released.released).toBe(8);
    await waitFor(() => receiver.ofType('customer.created').length === 8, 'eight deliveries');
    const order = receiver.ofType('customer.created').map((r) => r.event.data.object.id);
    expect([...order].sort()).toEqual([...created].sort());
    // A shuffle of three or more is never the creation order or its reverse.
    expect(order).not.toEqual(created);
    expect(order).not.toEqual([...created].reverse());
    const state = await fx.state();
    expect(state.webhooks.withheld).toEqual([]);
    expect(state.webhooks.pending).toBe(0);
  });

  it('reset clears webhook controls and withheld deliveries', async () => {
    await fx.control('POST', '/_emulator/webhooks/control', {
      withhold: true,
      delayMs: 5_000,
      duplicateNext: 3,
    });
    await fx.stripe.customers.create({});
    expect((await fx.state()).webhooks.withheld).toHaveLength(2); // the delivery and its duplicate
    await fx.control('POST', '/_emulator/reset');
    const webhooks = await fx.control<{ controls: unknown; withheld: unknown[]; pending: number }>(
      'GET',
      '/_emulator/webhooks',
    );
    expect(webhooks.controls).toEqual({ withhold: false, delayMs: 0, duplicateNext: 0 });
    expect(webhooks.withheld).toEqual([]);
    expect(webhooks.pending).toBe(0);
    // The event withheld before the reset is gone; a new one is delivered at once, and once.
    const c = await fx.stripe.customers.create({});
    await waitFor(() => receiver.ofType('customer.created').length === 1, 'the delivery after reset', 2_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.ofType('customer.created').map((r) => r.event.data.object.id)).toEqual([c.id]);
  });

  it('delays deliveries without delaying the API response', async () => {
    await fx.control('POST', '/_emulator/webhooks/control', { delayMs: 300 });
    const started = Date.now();
    await fx.stripe.customers.create({});
    expect(Date.now() - started).toBeLessThan(250);
    expect(receiver.received).toHaveLength(0);
    await waitFor(() => receiver.ofType('customer.created').length === 1, 'the delayed delivery');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('a slow receiver never blocks the API', async () => {
    receiver.setResponder(() => 500);
    await fx.control('POST', '/_emulator/webhooks/endpoints', {
      url: 'http://10.255.255.1/blackhole',
      secret: 'whsec_x',
    });
    try {
      const started = Date.now();
      await succeededCharge();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await fx.control('DELETE', '/_emulator/webhooks/endpoints');
    }
  });
});
