import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeForm } from '../../tools/stripe-emulator/form';
import { type EmulatorFixture, errorOf, startEmulatorFixture } from './helpers';

describe('form decoding', () => {
  it('decodes nested keys, indexed and appended arrays, and empty values as the SDK sends them', () => {
    expect(
      decodeForm(
        'amount=1000&metadata[purchase_id]=p%201&payment_method_types[0]=card&payment_method_types[1]=link&expand[]=a&expand[]=b&invoice_settings[default_payment_method]=&description=a+b',
      ),
    ).toEqual({
      amount: '1000',
      metadata: { purchase_id: 'p 1' },
      payment_method_types: ['card', 'link'],
      expand: ['a', 'b'],
      invoice_settings: { default_payment_method: '' },
      description: 'a b',
    });
    expect(decodeForm('a%5Bb%5D=1')).toEqual({ a: { b: '1' } });
    expect(() => decodeForm('a[b]x=1')).toThrow();
  });
});

describe('API versions and parameter validation', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await startEmulatorFixture();
  });
  afterAll(() => fx?.handle.close());

  it('rejects payment_method_types from API 2026-09-30 on, accepts it on older versions', async () => {
    const params = {
      amount: 1000,
      currency: 'usd',
      payment_method_types: ['card'],
    } as unknown as Stripe.PaymentIntentCreateParams;
    const err = await errorOf(() => fx.stripe.paymentIntents.create(params));
    expect(err.code).toBe('parameter_unknown');
    expect(err.param).toBe('payment_method_types');
    const old = new Stripe('sk_test_emulator', {
      apiVersion: '2025-09-30.clover' as Stripe.LatestApiVersion,
      host: '127.0.0.1',
      port: fx.handle.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const pi = await old.paymentIntents.create(params);
    expect(pi.payment_method_types).toEqual(['card']);
    expect(pi.lastResponse.apiVersion).toBe('2025-09-30.clover');
  });

  it('takes the legacy payment_method_types on a SetupIntent on an API version before 2026-09-30 only', async () => {
    const params = { payment_method_types: ['card'] } as unknown as Stripe.SetupIntentCreateParams;
    const err = await errorOf(() => fx.stripe.setupIntents.create(params));
    expect(err.code).toBe('parameter_unknown');
    expect(err.param).toBe('payment_method_types');
    const old = new Stripe('sk_test_emulator', {
      apiVersion: '2025-09-30.clover' as Stripe.LatestApiVersion,
      host: '127.0.0.1',
      port: fx.handle.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const si = await old.setupIntents.create(params);
    expect(si.id).toMatch(/^seti_/);
    expect(si.payment_method_types).toEqual(['card']);
    expect(si.lastResponse.apiVersion).toBe('2025-09-30.clover');
  });

  it('error responses carry a Request-Id the SDK exposes', async () => {
    const missing = await errorOf(() => fx.stripe.customers.retrieve('cus_does_not_exist'));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('resource_missing');
    expect(missing.requestId).toMatch(/^req_/);
    expect(missing.headers?.['request-id']).toBe(missing.requestId);
    const invalid = await errorOf(() =>
      fx.stripe.customers.create({ bogus: 1 } as unknown as Stripe.CustomerCreateParams),
    );
    expect(invalid.statusCode).toBe(400);
    expect(invalid.requestId).toMatch(/^req_/);
    expect(invalid.requestId).not.toBe(missing.requestId);
  });

  it('checks types and required parameters', async () => {
    const notInt = await errorOf(() =>
      fx.stripe.paymentIntents.create({ amount: 'ten' as unknown as number, currency: 'usd' }),
    );
    expect(notInt.code).toBe('parameter_invalid_integer');
    const missing = await errorOf(() =>
      fx.stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams),
    );
    expect(missing.code).toBe('parameter_missing');
    expect(missing.param).toBe('amount');
    const tooSmall = await errorOf(() => fx.stripe.paymentIntents.create({ amount: 10, currency: 'usd' }));
    expect(tooSmall.code).toBe('amount_too_small');
  });

  it('unrecognized URLs answer 404', async () => {
    const res = await fetch(`${fx.handle.url}/v1/nothing_here`, {
      headers: { authorization: 'Bearer sk_test_x' },
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/Unrecognized request URL/);
  });
});

describe('events.list filters', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await startEmulatorFixture();
  });
  afterAll(() => fx?.handle.close());

  it('filters by types (exact and prefix.*) and by created ranges', async () => {
    await fx.control('POST', '/_emulator/reset');
    const first = await fx.stripe.customers.create({ email: 'first@example.com' });
    await fx.stripe.paymentMethods.attach('pm_card_visa', { customer: first.id });
    const firstEvents = (await fx.stripe.events.list({ limit: 100 })).data;
    expect(firstEvents.map((e) => e.type).sort()).toEqual(['customer.created', 'payment_method.attached']);
    const firstSecond = Math.max(...firstEvents.map((e) => e.created));
    // the next events in a later second, so `created` ranges can tell them apart
    await new Promise((r) => setTimeout(r, (firstSecond + 1) * 1000 - Date.now() + 20));
    const second = await fx.stripe.customers.create({ email: 'second@example.com' });
    await fx.stripe.customers.update(second.id, { metadata: { k: 'v' } });
    const all = (await fx.stripe.events.list({ limit: 100 })).data;
    const secondEvents = all.filter((e) => !firstEvents.some((f) => f.id === e.id));
    expect(secondEvents.map((e) => e.type).sort()).toEqual(['customer.created', 'customer.updated']);
    const secondSecond = Math.min(...secondEvents.map((e) => e.created));
    expect(secondSecond).toBeGreaterThan(firstSecond);

    const ids = (list: Stripe.ApiList<Stripe.Event>) => list.data.map((e) => e.id).sort();
    const idsOf = (events: Stripe.Event[]) => events.map((e) => e.id).sort();

    const byTypes = await fx.stripe.events.list({ types: ['customer.created', 'payment_method.*'] });
    expect(ids(byTypes)).toEqual(
      idsOf(all.filter((e) => e.type === 'customer.created' || e.type.startsWith('payment_method.'))),
    );
    expect(byTypes.data).toHaveLength(3);
    const byType = await fx.stripe.events.list({ type: 'customer.*' });
    expect(ids(byType)).toEqual(idsOf(all.filter((e) => e.type.startsWith('customer.'))));

    expect(ids(await fx.stripe.events.list({ created: { gte: secondSecond } }))).toEqual(idsOf(secondEvents));
    expect(ids(await fx.stripe.events.list({ created: { lt: secondSecond } }))).toEqual(idsOf(firstEvents));
    expect(ids(await fx.stripe.events.list({ created: { gt: firstSecond, lte: secondSecond } }))).toEqual(
      idsOf(secondEvents.filter((e) => e.created === secondSecond)),
    );
    expect(ids(await fx.stripe.events.list({ created: firstSecond }))).toEqual(
      idsOf(firstEvents.filter((e) => e.created === firstSecond)),
    );
    expect((await fx.stripe.events.list({ created: { gt: secondSecond + 3600 } })).data).toEqual([]);
    // both filters together
    expect(
      ids(await fx.stripe.events.list({ types: ['customer.created'], created: { gte: secondSecond } })),
    ).toEqual([secondEvents.find((e) => e.type === 'customer.created')?.id]);
  });
});
