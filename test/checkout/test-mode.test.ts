// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/portal/app';
import { call, ok } from '../catalog/helpers';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PortalHarness, portalHarness } from './harness';

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness({ cardWaitTimeoutMs: 60_000, authenticationWaitTimeoutMs: 60_000 });
});
afterAll(() => h?.close());

const intentOf = (purchase: any) => (purchase.nextAction.clientSecret as string).split('_secret_')[0]!;

async function waitingForCard() {
  const who = await h.customer({ plan: 'free' });
  const res = await h.checkout(who);
  const purchase = await h.purchaseReaches(who, res.body.data.id, 'awaiting_payment_method');
  return { who, purchase, setupIntentId: intentOf(purchase) };
}

describe('test-mode portal routes (Stripe emulator only)', () => {
  it('settings say TEST MODE and list the test cards', async () => {
    const who = await h.customer();
    expect(await ok(h.app, 'GET', '/v1/portal/settings', { token: who.token })).toEqual({
      testMode: true,
      stripePublishableKey: null,
      maxQuantity: h.env.config.MAX_PURCHASE_QUANTITY,
    });
    const cards = await ok(h.app, 'GET', '/v1/portal/test-mode/cards', { token: who.token });
    expect(cards.map((c: any) => c.number.slice(-4))).toEqual(['4242', '0341', '3184', '9995']);
  });

  it("act only on the session customer's own purchase", async () => {
    const { setupIntentId, purchase } = await waitingForCard();
    const stranger = await h.customer({ plan: 'free' });
    const res = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: stranger.token,
      body: { card: '4242424242424242' },
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('purchase_not_found');
    const pi = await call(h.app, 'POST', '/v1/portal/test-mode/payment-intents/pi_notyours123/authenticate', {
      token: stranger.token,
      body: { outcome: 'succeed' },
    });
    expect(pi.status).toBe(404);
    const noToken = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      body: { card: '4242424242424242' },
    });
    expect(noToken.status).toBe(401);
    const badCard = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: stranger.token,
      body: { card: '1234123412341234' },
    });
    expect(badCard.status).toBe(400);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['requires_payment_method']);
  });

  it('a 3184 card added at checkout: 3-D Secure on the card, then on the payment, then completed', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    const confirm = await ok(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      status: 200,
      body: { card: '4000002760003184' },
    });
    expect(confirm).toEqual({ id: setupIntentId, status: 'requires_action', requiresAction: true });
    const authenticated = await ok(
      h.app,
      'POST',
      `/v1/portal/test-mode/setup-intents/${setupIntentId}/authenticate`,
      { token: who.token, status: 200, body: { outcome: 'succeed' } },
    );
    expect(authenticated.status).toBe('succeeded');
    const waiting = await h.purchaseReaches(who, purchase.id, 'requires_action');
    expect(waiting.nextAction.type).toBe('authenticate');
    const paid = await ok(
      h.app,
      'POST',
      `/v1/portal/test-mode/payment-intents/${intentOf(waiting)}/authenticate`,
      {
        token: who.token,
        status: 200,
        body: { outcome: 'succeed' },
      },
    );
    expect(paid.status).toBe('succeeded');
    await h.purchaseReaches(who, purchase.id, 'completed');
    // Once settled, the steps refuse.
    const again = await call(
      h.app,
      'POST',
      `/v1/portal/test-mode/payment-intents/${intentOf(waiting)}/authenticate`,
      {
        token: who.token,
        body: { outcome: 'succeed' },
      },
    );
    expect(again.status).toBe(409);
  });

  it('the confirm hints the workflow itself: with Stripe webhooks withheld, a no-card purchase still completes', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    try {
      const confirm = await ok(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
        token: who.token,
        status: 200,
        body: { card: '4242424242424242' },
      });
      expect(confirm).toEqual({ id: setupIntentId, status: 'succeeded', requiresAction: false });
      await h.purchaseReaches(who, purchase.id, 'completed');
      expect(await h.signalsOf(purchase.id)).toEqual(['paymentMethodAdded']);
      const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
      expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    } finally {
      await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
  });

  it('the 3-D Secure steps hint the workflow too: a 3184 card completes with webhooks withheld', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    try {
      await ok(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
        token: who.token,
        status: 200,
        body: { card: '4000002760003184' },
      });
      await ok(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/authenticate`, {
        token: who.token,
        status: 200,
        body: { outcome: 'succeed' },
      });
      const waiting = await h.purchaseReaches(who, purchase.id, 'requires_action');
      await ok(h.app, 'POST', `/v1/portal/test-mode/payment-intents/${intentOf(waiting)}/authenticate`, {
        token: who.token,
        status: 200,
        body: { outcome: 'succeed' },
      });
      await h.purchaseReaches(who, purchase.id, 'completed');
      expect(await h.signalsOf(purchase.id)).toEqual(['paymentMethodAdded', 'paymentOutcome']);
    } finally {
      await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
  });

  it('a card refused at setup (9995) answers 402 card_declined and the purchase keeps waiting', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    const res = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      body: { card: '4000000000009995' },
    });
    expect(res.status).toBe(402);
    expect(res.body.error.code).toBe('card_declined');
    expect((await ok(h.app, 'GET', `/v1/portal/purchases/${purchase.id}`, { token: who.token })).status).toBe(
      'awaiting_payment_method',
    );
  });

  it('a card step Stripe refuses (its SetupIntent canceled in Stripe meanwhile) answers 402 payment_failed', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    // Canceled on Stripe's side (e.g. from its dashboard) while the purchase still waits for a card.
    await h.env.stripe.setupIntents.cancel(setupIntentId);
    const res = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      body: { card: '4242424242424242' },
    });
    expect([res.status, res.body.error?.code]).toEqual([402, 'payment_failed']);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['canceled']);
    expect(stripe.paymentIntents).toHaveLength(0);
  });

  it('refuse a step the purchase is not at: 409 purchase_not_waiting, nothing changed', async () => {
    const { who, purchase, setupIntentId } = await waitingForCard();
    const notThreeDs = await call(
      h.app,
      'POST',
      `/v1/portal/test-mode/setup-intents/${setupIntentId}/authenticate`,
      {
        token: who.token,
        body: { outcome: 'succeed' },
      },
    );
    expect([notThreeDs.status, notThreeDs.body.error?.code]).toEqual([409, 'purchase_not_waiting']);
    const added = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      body: { card: '4242424242424242' },
    });
    expect(added.status).toBe(200);
    await h.purchaseReaches(who, purchase.id, 'completed');
    const again = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      body: { card: '4242424242424242' },
    });
    expect([again.status, again.body.error?.code]).toEqual([409, 'purchase_not_waiting']);
    expect(again.body.error.message).toContain('completed');
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.paymentIntents).toHaveLength(1);
  });

  it('do not exist with a real Stripe key (404), and the page then allows Stripe.js', async () => {
    const config = { ...h.env.config, STRIPE_SECRET_KEY: 'sk_test_realkeyfortests', stripeIsReal: true };
    const real = await buildApp({
      config,
      sql: h.env.sql,
      logger: false,
      stripePublishableKey: 'pk_test_abc',
    });
    try {
      const who = await h.customer();
      for (const [method, url, body] of [
        ['GET', '/v1/portal/test-mode/cards', undefined],
        ['POST', '/v1/portal/test-mode/setup-intents/seti_123/confirm', { card: '4242424242424242' }],
        ['POST', '/v1/portal/test-mode/setup-intents/seti_123/authenticate', { outcome: 'succeed' }],
        ['POST', '/v1/portal/test-mode/payment-intents/pi_123/authenticate', { outcome: 'succeed' }],
      ] as const) {
        const res = await call(real, method, url, { token: who.token, body });
        expect(res.status, url).toBe(404);
      }
      expect(await ok(real, 'GET', '/v1/portal/settings', { token: who.token })).toMatchObject({
        testMode: false,
        stripePublishableKey: 'pk_test_abc',
      });
      const page = await real.inject({ method: 'GET', url: '/portal' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-security-policy']).toContain('https://js.stripe.com');
      const doc = await real.inject({ method: 'GET', url: '/openapi.json' });
      expect(Object.keys(JSON.parse(doc.body).paths).filter((p) => p.includes('test-mode'))).toEqual([]);
    } finally {
      await real.close();
    }
  });

  it('serves the page and its assets without a session (the token stays in the fragment)', async () => {
    for (const [url, type] of [
      ['/portal', 'text/html'],
      ['/portal/app.js', 'text/javascript'],
      ['/portal/app.css', 'text/css'],
    ] as const) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain(type);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('stripe.com');
    }
  });
});
