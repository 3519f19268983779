import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  CreditPacks,
  type CreditPacksEvent,
  CreditPacksSignatureError,
  generateTestHeader,
} from '../../packages/sdk/src/index';

/**
 * The webhook helper for the product's outgoing events (docs/api.md, "Events and webhook endpoints":
 * `Credit-Packs-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, Stripe's scheme). The
 * product sends no events yet, so the signatures here are made independently, by the `stripe`
 * package's own test-header generator, which implements exactly that scheme.
 */

const stripe = new Stripe('sk_test_sdk_webhook_helper');
const secret = 'whsec_sdkTestSecret0123456789';
const now = () => Math.floor(Date.now() / 1000);
const signedByStripe = (payload: string, options: { secret?: string; timestamp?: number } = {}) =>
  stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? secret,
    timestamp: options.timestamp ?? now(),
  });

const event = {
  id: 'evt_sdk0000000001',
  type: 'purchase.completed',
  createdAt: '2026-11-25T10:00:01.000Z',
  data: {
    purchase: {
      id: 'pur_sdk0000000001',
      customerId: 'cus_sdk0000000001',
      status: 'completed',
      creditPackId: 'cpk_sdk0000000001',
      quantity: 1,
      credits: 500,
      price: 4000,
      currency: 'usd',
      nextAction: null,
      failure: null,
      createdAt: '2026-11-25T10:00:00.000Z',
      updatedAt: '2026-11-25T10:00:01.000Z',
    },
  },
};
const rawBody = JSON.stringify(event);
const { verify, constructEvent } = CreditPacks.webhooks;

describe('CreditPacks.webhooks.verify', () => {
  it('accepts a header made by Stripe’s generator for the raw body (string or bytes)', () => {
    const header = signedByStripe(rawBody);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verify(rawBody, header, secret)).toBe(true);
    expect(verify(Buffer.from(rawBody), header, secret)).toBe(true);
    expect(verify(new TextEncoder().encode(rawBody), header, secret, 300)).toBe(true);
  });

  it('refuses a tampered body, even one that parses to the same JSON', () => {
    const header = signedByStripe(rawBody);
    expect(verify(rawBody.replace('"credits":500', '"credits":5000'), header, secret)).toBe(false);
    expect(verify(JSON.stringify(event, null, 2), header, secret)).toBe(false);
    expect(verify(`${rawBody} `, header, secret)).toBe(false);
  });

  it('refuses another secret', () => {
    expect(verify(rawBody, signedByStripe(rawBody, { secret: 'whsec_other' }), secret)).toBe(false);
  });

  it('refuses a timestamp outside the tolerance (stale or too far ahead), within it accepts', () => {
    const stale = signedByStripe(rawBody, { timestamp: now() - 301 });
    expect(verify(rawBody, stale, secret)).toBe(false);
    expect(verify(rawBody, stale, secret, 600)).toBe(true);
    expect(verify(rawBody, signedByStripe(rawBody, { timestamp: now() - 250 }), secret)).toBe(true);
    expect(verify(rawBody, signedByStripe(rawBody, { timestamp: now() + 3_600 }), secret)).toBe(false);
  });

  it('accepts when any one of several v1 entries matches (a secret being rolled), refuses when none does', () => {
    const t = now();
    const good = signedByStripe(rawBody, { timestamp: t }).split(',v1=')[1]!;
    const other = signedByStripe(rawBody, { timestamp: t, secret: 'whsec_old' }).split(',v1=')[1]!;
    expect(verify(rawBody, `t=${t},v1=${other},v1=${good}`, secret)).toBe(true);
    expect(verify(rawBody, `t=${t},v0=abc,v1=${good},v1=${other}`, secret)).toBe(true);
    expect(verify(rawBody, `t=${t},v1=${other},v1=${other}`, secret)).toBe(false);
  });

  it('refuses a missing or malformed header', () => {
    const good = signedByStripe(rawBody).split(',v1=')[1]!;
    for (const header of [
      undefined,
      null,
      '',
      'garbage',
      `v1=${good}`,
      `t=,v1=${good}`,
      `t=${now()}`,
      `t=${now()},v1=zz`,
    ]) {
      expect(verify(rawBody, header, secret)).toBe(false);
    }
  });
});

describe('CreditPacks.webhooks.constructEvent', () => {
  it('returns the typed event of a well-signed delivery', () => {
    const received: CreditPacksEvent = constructEvent(rawBody, signedByStripe(rawBody), secret);
    expect(received).toEqual(event);
    if (received.type === 'auto_top_up.paused') throw new Error('unexpected');
    expect(received.data.purchase.status).toBe('completed');
  });

  it('throws CreditPacksSignatureError with the reason', () => {
    const cases: [string | undefined, string, string][] = [
      [undefined, rawBody, 'missing_header'],
      ['t=abc,v1=00', rawBody, 'malformed_header'],
      [signedByStripe(rawBody), `${rawBody}\n`, 'no_matching_signature'],
      [signedByStripe(rawBody, { timestamp: now() - 3_600 }), rawBody, 'timestamp_outside_tolerance'],
    ];
    for (const [header, body, reason] of cases) {
      let thrown: unknown;
      try {
        constructEvent(body, header, secret);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CreditPacksSignatureError);
      expect((thrown as CreditPacksSignatureError).reason).toBe(reason);
    }
  });

  it("the SDK's own test header is accepted by Stripe's verifier too (the same scheme both ways)", () => {
    const header = generateTestHeader({ payload: rawBody, secret });
    expect(stripe.webhooks.constructEvent(rawBody, header, secret)).toEqual(event);
    expect(CreditPacks.webhooks.SIGNATURE_HEADER).toBe('Credit-Packs-Signature');
  });
});
