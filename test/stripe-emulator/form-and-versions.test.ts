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
