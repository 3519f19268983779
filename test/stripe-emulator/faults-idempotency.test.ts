/** Emulator-only: fault injection, in-flight idempotency, the state dump, and the dropped-response acceptance. */
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeAt } from '../../src/stripe/client';
import { type EmulatorFixture, errorOf, startEmulatorFixture } from './helpers';

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await startEmulatorFixture();
});
afterAll(() => fx?.handle.close());
beforeEach(() => fx.control('POST', '/_emulator/reset'));

async function savedCard(token = 'pm_card_visa') {
  const customer = await fx.stripe.customers.create({ email: 'f@example.com' });
  const pm = await fx.stripe.paymentMethods.attach(token, { customer: customer.id });
  return { customer: customer.id, pm: pm.id };
}

function charge(
  stripe: Stripe,
  card: { customer: string; pm: string },
  idempotencyKey: string,
  amount = 1000,
) {
  return stripe.paymentIntents.create(
    {
      amount,
      currency: 'usd',
      customer: card.customer,
      payment_method: card.pm,
      confirm: true,
      off_session: true,
      metadata: { purchase_id: 'pur_1' },
    },
    { idempotencyKey },
  );
}

const piCreate = { method: 'POST', path: '/v1/payment_intents' } as const;

describe('dropped connections', () => {
  it('acceptance: a charge whose response is lost after it took effect, retried with the same key, makes one PaymentIntent and one charge', async () => {
    const card = await savedCard();
    // times: 2 because stripe-node retries a reset connection once on its own, even with maxNetworkRetries 0.
    await fx.control('POST', '/_emulator/faults', {
      match: piCreate,
      times: 2,
      action: { type: 'drop_after' },
    });
    const k = `purchase-${randomUUID()}`;
    const err = await errorOf(() => charge(fx.stripe, card, k));
    expect(err.type).toBe('StripeConnectionError');

    let state = await fx.state();
    expect(state.paymentIntents).toHaveLength(1); // it took effect
    expect(state.charges).toHaveLength(1);

    const retried = await charge(fx.stripe, card, k);
    expect(retried.status).toBe('succeeded');
    expect((retried.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBe('true');
    state = await fx.state();
    expect(state.paymentIntents).toHaveLength(1);
    expect(state.paymentIntents[0]?.id).toBe(retried.id);
    expect(state.charges).toHaveLength(1);
    expect(state.paymentIntents[0]?._emulator).toMatchObject({
      creates: 1,
      confirmations: 1,
      chargeAttempts: 1,
    });
    expect(state.events.filter((e) => e.type === 'payment_intent.succeeded')).toHaveLength(1);
    const creates = state.requests.filter((r) => r.path === '/v1/payment_intents' && r.method === 'POST');
    expect(creates.map((r) => [r.fault, r.replayed])).toEqual([
      ['drop_after', false],
      ['drop_after', true],
      [null, true],
    ]);
  });

  it('without the fault armed twice, the SDK itself retries the reset connection with its key and gets the replay', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', {
      match: piCreate,
      times: 1,
      action: { type: 'drop_after' },
    });
    const pi = await charge(fx.stripe, card, `purchase-${randomUUID()}`);
    expect(pi.status).toBe('succeeded');
    const state = await fx.state();
    expect(state.paymentIntents).toHaveLength(1);
    expect(state.charges).toHaveLength(1);
  });

  it('drop_before: nothing happens, and a retry with the same key charges once', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', {
      match: piCreate,
      times: 2,
      action: { type: 'drop_before' },
    });
    const k = `purchase-${randomUUID()}`;
    const err = await errorOf(() => charge(fx.stripe, card, k));
    expect(err.type).toBe('StripeConnectionError');
    expect((await fx.state()).paymentIntents).toHaveLength(0);
    const pi = await charge(fx.stripe, card, k);
    expect(pi.status).toBe('succeeded');
    expect((pi.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBeUndefined();
    const state = await fx.state();
    expect(state.paymentIntents).toHaveLength(1);
    expect(state.charges).toHaveLength(1);
  });
});

describe('error statuses and latency', () => {
  it('answers 500 for the next N matching requests, without effect, then recovers', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', {
      match: { method: 'POST', pathRegex: '^/v1/payment_intents$' },
      times: 2,
      action: { type: 'status', status: 500 },
    });
    const k = `purchase-${randomUUID()}`;
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(() => charge(fx.stripe, card, k));
      expect(err.type).toBe('StripeAPIError');
      expect(err.statusCode).toBe(500);
    }
    expect((await fx.state()).paymentIntents).toHaveLength(0);
    const pi = await charge(fx.stripe, card, k);
    expect(pi.status).toBe('succeeded');
    const faults = await fx.control<{ faults: { hits: number; remaining: number }[] }>(
      'GET',
      '/_emulator/faults',
    );
    expect(faults.faults[0]).toMatchObject({ hits: 2, remaining: 0 });
  });

  it('answers 429 with Retry-After', async () => {
    await fx.control('POST', '/_emulator/faults', {
      match: { path: '/v1/customers' },
      action: { type: 'status', status: 429, retryAfterSeconds: 7 },
    });
    const err = await errorOf(() => fx.stripe.customers.create({}));
    expect(err.type).toBe('StripeRateLimitError');
    expect(err.statusCode).toBe(429);
    expect(err.headers?.['retry-after']).toBe('7');
    expect((await fx.state()).customers).toHaveLength(0);
  });

  it('a refusal: errorType invalid_request_error with a code, read by the SDK as an invalid request', async () => {
    const c = await fx.stripe.customers.create({});
    await fx.control('POST', '/_emulator/faults', {
      match: { method: 'GET', path: '/v1/customers' },
      action: { type: 'status', status: 400, errorType: 'invalid_request_error', code: 'parameter_invalid' },
    });
    const err = await errorOf(() => fx.stripe.customers.retrieve(c.id));
    expect(err.type).toBe('StripeInvalidRequestError');
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('parameter_invalid');
    expect(((await fx.stripe.customers.retrieve(c.id)) as Stripe.Customer).id).toBe(c.id);
  });

  it('only matching requests are affected', async () => {
    await fx.control('POST', '/_emulator/faults', {
      match: { method: 'GET', path: '/v1/customers' },
      action: { type: 'status', status: 500 },
    });
    const c = await fx.stripe.customers.create({}); // POST: not matched
    const err = await errorOf(() => fx.stripe.customers.retrieve(c.id));
    expect(err.statusCode).toBe(500);
    expect(((await fx.stripe.customers.retrieve(c.id)) as Stripe.Customer).id).toBe(c.id);
  });

  it('stalls: the SDK times out while the request still takes effect', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', { match: piCreate, action: { type: 'stall', ms: 400 } });
    const impatient = createStripeAt(fx.handle.url, { timeoutMs: 100 });
    const k = `purchase-${randomUUID()}`;
    const err = await errorOf(() => charge(impatient, card, k));
    expect(err.type).toBe('StripeConnectionError');
    expect(err.message).toMatch(/timeout/);
    // While the stalled request is in flight, the same key answers 409.
    const conflict = await errorOf(() => charge(fx.stripe, card, k));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('idempotency_key_in_use');
    // Once it completed, the key replays its result: one PaymentIntent.
    let replay: Stripe.PaymentIntent | undefined;
    for (const deadline = Date.now() + 5_000; !replay && Date.now() < deadline; ) {
      try {
        replay = await charge(fx.stripe, card, k);
      } catch (e) {
        if ((e as Stripe.errors.StripeError).statusCode !== 409) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(replay?.status).toBe('succeeded');
    expect((await fx.state()).paymentIntents).toHaveLength(1);
  });
});

describe('idempotency details', () => {
  it('keys are scoped per API key', async () => {
    const card = await savedCard();
    const other = createStripeAt(fx.handle.url, { apiKey: 'sk_test_other_account' });
    const k = `purchase-${randomUUID()}`;
    const a = await charge(fx.stripe, card, k);
    const b = await charge(other, card, k);
    expect(b.id).not.toBe(a.id);
  });

  it('a validation error is not stored: the key can be used again', async () => {
    const k = `cust-${randomUUID()}`;
    const err = await errorOf(() =>
      fx.stripe.customers.create({ bogus: 1 } as Stripe.CustomerCreateParams, { idempotencyKey: k }),
    );
    expect(err.code).toBe('parameter_unknown');
    const c = await fx.stripe.customers.create({ email: 'ok@example.com' }, { idempotencyKey: k });
    expect(c.id).toMatch(/^cus_/);
  });

  it('the same key on another endpoint is an idempotency_error', async () => {
    const k = `k-${randomUUID()}`;
    await fx.stripe.customers.create({}, { idempotencyKey: k });
    const err = await errorOf(() => fx.stripe.setupIntents.create({}, { idempotencyKey: k }));
    expect(err.type).toBe('StripeIdempotencyError');
  });
});

describe('state dump and controls', () => {
  it('the state shows every PaymentIntent, charge and refund with counters', async () => {
    const card = await savedCard('pm_card_chargeCustomerFail');
    const k = `purchase-${randomUUID()}`;
    await errorOf(() => charge(fx.stripe, card, k));
    await errorOf(() => charge(fx.stripe, card, k)); // replay
    const state = await fx.state();
    expect(state.paymentIntents).toHaveLength(1);
    expect(state.paymentIntents[0]?._emulator).toEqual({
      requests: 2,
      creates: 1,
      confirmations: 1,
      chargeAttempts: 1,
    });
    expect(state.charges.map((c) => c.status)).toEqual(['failed']);
    expect(state.refunds).toEqual([]);
  });

  it('reset clears objects and faults', async () => {
    await fx.stripe.customers.create({});
    await fx.control('POST', '/_emulator/faults', {
      match: {},
      times: 5,
      action: { type: 'status', status: 500 },
    });
    await fx.control('POST', '/_emulator/reset');
    const state = await fx.state();
    expect(state.customers).toEqual([]);
    expect(await fx.control('GET', '/_emulator/faults')).toEqual({ faults: [] });
    expect((await fx.stripe.customers.create({})).id).toMatch(/^cus_/);
  });

  it('reset forgets idempotency keys: a used key starts afresh, with other parameters too', async () => {
    const k = `cust-${randomUUID()}`;
    const before = await fx.stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: k });
    const replay = await fx.stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: k });
    expect(replay.id).toBe(before.id);
    expect(
      await errorOf(() => fx.stripe.customers.create({ email: 'b@example.com' }, { idempotencyKey: k })),
    ).toMatchObject({ type: 'StripeIdempotencyError' });
    await fx.control('POST', '/_emulator/reset');
    const after = await fx.stripe.customers.create({ email: 'b@example.com' }, { idempotencyKey: k });
    expect(after.id).not.toBe(before.id);
    expect(after.email).toBe('b@example.com');
    expect((after.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBeUndefined();
    expect((await fx.state()).customers.map((c) => c.id)).toEqual([after.id]);
  });

  it('rejects an invalid fault definition', async () => {
    await expect(fx.control('POST', '/_emulator/faults', { action: { type: 'explode' } })).rejects.toThrow(
      /400/,
    );
  });

  it('a saved card can start declining (decline_charges): attached 4242, then insufficient_funds on every charge', async () => {
    const customer = await fx.stripe.customers.create({});
    const card = await fx.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const charge = () =>
      fx.stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        customer: customer.id,
        payment_method: card.id,
        confirm: true,
        off_session: true,
      });
    expect((await charge()).status).toBe('succeeded');
    await fx.control('POST', `/_emulator/payment_methods/${card.id}/decline_charges`, {
      decline_code: 'insufficient_funds',
    });
    const err = await errorOf(charge);
    expect(err).toMatchObject({
      type: 'StripeCardError',
      code: 'card_declined',
      decline_code: 'insufficient_funds',
    });
    expect(err.payment_intent?.status).toBe('requires_payment_method');
    await expect(
      fx.control('POST', '/_emulator/payment_methods/pm_missing/decline_charges', {
        decline_code: 'insufficient_funds',
      }),
    ).rejects.toThrow(/404/);
    await expect(
      fx.control('POST', `/_emulator/payment_methods/${card.id}/decline_charges`, {
        decline_code: 'expired',
      }),
    ).rejects.toThrow(/400/);
  });

  it('creates a PaymentMethod from a raw test card number (test-only route)', async () => {
    const pm = await fx.control<Stripe.PaymentMethod>('POST', '/_emulator/payment_methods', {
      number: '4000 0000 0000 9995',
    });
    expect(pm.id).toMatch(/^pm_/);
    expect(pm.card?.last4).toBe('9995');
    const err = await errorOf(() =>
      fx.stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: pm.id,
        confirm: true,
      }),
    );
    expect(err.decline_code).toBe('insufficient_funds');
  });

  it('requires an API key', async () => {
    const res = await fetch(`${fx.handle.url}/v1/customers`);
    expect(res.status).toBe(401);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const body = (await res.json()) as { error: { type: string } };
    expect(body.error.type).toBe('invalid_request_error');
  });
});

describe('stored errors (a 500 Stripe keeps under the idempotency key)', () => {
  it('stored_error: the 500 is replayed to every retry with that key while the key lives; nothing is created; another key executes', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', { match: piCreate, action: { type: 'stored_error' } });
    const k = `purchase-${randomUUID()}`;
    const first = await errorOf(() => charge(fx.stripe, card, k));
    expect(first.statusCode).toBe(500);
    expect(first.type).toBe('StripeAPIError');
    expect((await fx.state()).paymentIntents).toEqual([]);

    // the fault is spent (times: 1), yet the same key keeps answering the stored 500
    for (let i = 0; i < 2; i++) {
      const again = await errorOf(() => charge(fx.stripe, card, k));
      expect(again.statusCode).toBe(500);
      expect(again.headers?.['idempotent-replayed']).toBe('true');
      expect(again.message).toBe(first.message);
    }
    let state = await fx.state();
    expect(state.paymentIntents).toEqual([]);
    expect(state.charges).toEqual([]);
    expect(
      state.events.filter((e) => !e.type.startsWith('customer.') && !e.type.startsWith('payment_method.')),
    ).toEqual([]);
    const creates = state.requests.filter((r) => r.path === '/v1/payment_intents' && r.method === 'POST');
    expect(creates.map((r) => [r.status, r.fault, r.replayed])).toEqual([
      [500, 'stored_error', false],
      [500, null, true],
      [500, null, true],
    ]);

    // another key executes normally
    const other = await charge(fx.stripe, card, `purchase-${randomUUID()}`);
    expect(other.status).toBe('succeeded');
    state = await fx.state();
    expect(state.paymentIntents.map((pi) => pi.id)).toEqual([other.id]);
    expect((await errorOf(() => charge(fx.stripe, card, k))).statusCode).toBe(500);
  });

  it('stored_error with another 5xx status; the unstored status fault leaves the key free (the difference)', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', {
      match: piCreate,
      action: { type: 'stored_error', status: 503 },
    });
    const k1 = `k-${randomUUID()}`;
    expect((await errorOf(() => charge(fx.stripe, card, k1))).statusCode).toBe(503);
    expect((await errorOf(() => charge(fx.stripe, card, k1))).statusCode).toBe(503);

    await fx.control('POST', '/_emulator/faults', {
      match: piCreate,
      action: { type: 'status', status: 500 },
    });
    const k2 = `k-${randomUUID()}`;
    expect((await errorOf(() => charge(fx.stripe, card, k2))).statusCode).toBe(500);
    expect((await charge(fx.stripe, card, k2)).status).toBe('succeeded');
  });

  it('rejects a stored_error status below 500', async () => {
    await expect(
      fx.control('POST', '/_emulator/faults', {
        match: piCreate,
        action: { type: 'stored_error', status: 402 },
      }),
    ).rejects.toThrow(/answered 400/);
  });
});

describe('expiring idempotency keys (as after 24 h)', () => {
  it('expires the keys with a prefix: a reused key executes afresh; other keys still replay', async () => {
    const card = await savedCard();
    const first = await charge(fx.stripe, card, 'pur_A:charge');
    const other = await charge(fx.stripe, card, 'pur_B:charge');
    const keys = await fx.control<{ keys: { key: string; state: string; status: number }[] }>(
      'GET',
      '/_emulator/idempotency',
    );
    // (the SDK gives its own key, stripe-node-retry-…, to the customer and attach calls)
    expect(keys.keys.filter((k) => k.key.startsWith('pur_')).map((k) => [k.key, k.state, k.status])).toEqual([
      ['pur_A:charge', 'done', 200],
      ['pur_B:charge', 'done', 200],
    ]);

    const none = await fx.control<{ expired: string[] }>('POST', '/_emulator/idempotency/expire', {
      prefix: 'pur_C',
    });
    expect(none.expired).toEqual([]);
    expect((await charge(fx.stripe, card, 'pur_A:charge')).id).toBe(first.id);

    const some = await fx.control<{ expired: string[] }>('POST', '/_emulator/idempotency/expire', {
      prefix: 'pur_A',
    });
    expect(some.expired).toEqual(['pur_A:charge']);
    const afresh = await charge(fx.stripe, card, 'pur_A:charge', 2000); // other parameters too: a new request
    expect(afresh.id).not.toBe(first.id);
    expect((afresh.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBeUndefined();
    expect((await charge(fx.stripe, card, 'pur_B:charge')).id).toBe(other.id);
    expect((await fx.state()).paymentIntents).toHaveLength(3);
  });

  it('expires every key without a prefix, a stored 500 included', async () => {
    const card = await savedCard();
    await fx.control('POST', '/_emulator/faults', { match: piCreate, action: { type: 'stored_error' } });
    expect((await errorOf(() => charge(fx.stripe, card, 'k-500'))).statusCode).toBe(500);
    await charge(fx.stripe, card, 'k-ok');
    const all = await fx.control<{ expired: string[] }>('POST', '/_emulator/idempotency/expire', {});
    expect(all.expired.filter((k) => k.startsWith('k-')).sort()).toEqual(['k-500', 'k-ok']);
    expect((await fx.control<{ keys: unknown[] }>('GET', '/_emulator/idempotency')).keys).toEqual([]);
    expect((await charge(fx.stripe, card, 'k-500')).status).toBe('succeeded');
    expect((await fx.state()).paymentIntents).toHaveLength(2);
  });
});
