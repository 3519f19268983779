// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../catalog/helpers';
import { type PortalCustomer, type PortalHarness, portalHarness } from '../checkout/harness';
import { waitFor } from '../support/wait';

/**
 * The card on file over HTTP (docs/api.md, "Card on file"), all real: the portal listening, a worker,
 * the Stripe emulator delivering its webhooks to the portal. A replacement's SetupIntent is confirmed
 * on Stripe as Stripe.js would (raw test card → PaymentMethod → confirm); the portal learns of it from
 * the page's message (POST /v1/portal/payment-method/refresh) or Stripe's webhook.
 */

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness();
});
afterAll(() => h?.close());

/** A Stripe event of our making, signed with the webhook secret as Stripe signs it. */
function signedEvent(type: string, object: Record<string, unknown>) {
  const body = JSON.stringify({
    id: `evt_test${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
  return { body, signature: h.sign(body) };
}

const setupIntentIdOf = (clientSecret: string) => clientSecret.split('_secret_')[0]!;

async function getCard(who: PortalCustomer) {
  const res = await call(h.app, 'GET', '/v1/portal/payment-method', { token: who.token });
  expect(res.status).toBe(200);
  return res.body.data;
}

async function startReplacement(who: PortalCustomer): Promise<string> {
  const res = await call(h.app, 'POST', '/v1/portal/payment-method', { token: who.token });
  expect(res.status).toBe(201);
  expect(Object.keys(res.body.data)).toEqual(['clientSecret']);
  expect(res.body.data.clientSecret).toMatch(/^seti_\w+_secret_\w+$/);
  return setupIntentIdOf(res.body.data.clientSecret);
}

function refresh(who: PortalCustomer, setupIntentId: unknown) {
  return call(h.app, 'POST', '/v1/portal/payment-method/refresh', {
    token: who.token,
    body: { setupIntentId },
  });
}

async function stripeDefaultOf(who: PortalCustomer): Promise<string | null> {
  const [row] = await h.env.sql<{ stripe_customer_id: string | null }[]>`
    select stripe_customer_id from customers where id = ${who.id}`;
  if (!row?.stripe_customer_id) return null;
  const customer = await h.env.stripe.customers.retrieve(row.stripe_customer_id);
  if (customer.deleted) return null;
  const pm = customer.invoice_settings.default_payment_method;
  return typeof pm === 'string' ? pm : (pm?.id ?? null);
}

/** The card the purchase's PaymentIntent charged. */
async function chargedCard(purchaseId: string): Promise<string | null> {
  const row = await h.env.row(purchaseId);
  if (!row.stripe_payment_intent_id) return null;
  const pi = await h.env.stripe.paymentIntents.retrieve(row.stripe_payment_intent_id);
  return typeof pi.payment_method === 'string' ? pi.payment_method : (pi.payment_method?.id ?? null);
}

/** Stripe's own webhooks held back while `body` runs (only the page's message reaches the portal). */
async function withoutStripeWebhooks<T>(body: () => Promise<T>): Promise<T> {
  await h.emulator('POST', '/webhooks/control', { withhold: true });
  try {
    return await body();
  } finally {
    // Dropped, not delivered: the emulator forgets queued deliveries on reset only, so deliver them
    // afterwards; each test's assertions are made before this.
    await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
  }
}

describe('GET /v1/portal/payment-method', () => {
  it('is null before any card, and the card (brand, last4, expiry) of a customer with one', async () => {
    const none = await h.customer({ plan: 'free' });
    expect(await getCard(none)).toBeNull();

    const carded = await h.customer({ card: 'pm_card_visa' });
    const card = await getCard(carded);
    expect(card).toEqual({
      brand: 'visa',
      last4: '4242',
      expMonth: expect.any(Number),
      expYear: expect.any(Number),
    });
    expect(Object.keys(card)).toEqual(['brand', 'last4', 'expMonth', 'expYear']);
  });

  it('needs a portal session (401 in the envelope), and refuses a query string', async () => {
    const res = await call(h.app, 'GET', '/v1/portal/payment-method', {});
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    const admin = await call(h.app, 'GET', '/v1/portal/payment-method', { token: h.world.apiKey });
    expect(admin.status).toBe(401);
    const who = await h.customer();
    const query = await call(h.app, 'GET', '/v1/portal/payment-method?x=1', { token: who.token });
    expect(query.status).toBe(400);
    expect(query.body.error.code).toBe('validation_failed');
  });
});

describe('POST /v1/portal/payment-method: replacing the card', () => {
  it("creates a SetupIntent for the customer's own Stripe customer (created now when there was none), marked a card replacement", async () => {
    const who = await h.customer({ plan: 'free' });
    const setupIntentId = await startReplacement(who);
    const [row] = await h.env.sql<
      { stripe_customer_id: string | null; default_payment_method_id: string | null }[]
    >`
      select stripe_customer_id, default_payment_method_id from customers where id = ${who.id}`;
    expect(row!.stripe_customer_id).toMatch(/^cus_/);
    expect(row!.default_payment_method_id).toBeNull();
    const setupIntent = await h.env.stripe.setupIntents.retrieve(setupIntentId);
    expect(setupIntent.customer).toBe(row!.stripe_customer_id);
    expect(setupIntent.usage).toBe('off_session');
    expect(setupIntent.status).toBe('requires_payment_method');
    expect(setupIntent.metadata).toEqual({
      purpose: 'card_replacement',
      customer_id: who.id,
      organization_id: h.world.orgId,
    });
    const stripeCustomer = await h.env.stripe.customers.retrieve(row!.stripe_customer_id!);
    expect(stripeCustomer.deleted).toBeFalsy();
    expect((stripeCustomer as any).metadata).toEqual({ customer_id: who.id, organization_id: h.world.orgId });

    // A second replacement uses the same Stripe customer; a customer with a card keeps theirs.
    const again = await h.env.stripe.setupIntents.retrieve(await startReplacement(who));
    expect(again.customer).toBe(row!.stripe_customer_id);
    const carded = await h.customer({ card: 'pm_card_visa' });
    const theirs = await h.env.stripe.setupIntents.retrieve(await startReplacement(carded));
    expect(theirs.customer).toBe(carded.stripeCustomerId);
  });

  it("the page's message: refused until the SetupIntent succeeded, then the new card is the default and a purchase charges it", async () => {
    const who = await h.customer({ plan: 'free' });
    await withoutStripeWebhooks(async () => {
      const setupIntentId = await startReplacement(who);
      // Not confirmed yet: nothing changes, whatever the browser says.
      const early = await refresh(who, setupIntentId);
      expect(early.status).toBe(409);
      expect(early.body).toEqual({
        success: false,
        error: { code: 'setup_intent_not_succeeded', message: expect.any(String) },
      });
      expect(await getCard(who)).toBeNull();
      expect(await stripeDefaultOf(who)).toBeNull();

      const confirmed = await h.confirmSetupIntentOnStripe(setupIntentId, '5555555555554444');
      expect(confirmed.status).toBe('succeeded');
      const res = await refresh(who, setupIntentId);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        brand: 'mastercard',
        last4: '4444',
        expMonth: expect.any(Number),
        expYear: expect.any(Number),
      });
      expect(await stripeDefaultOf(who)).toBe(confirmed.payment_method);
      const me = await call(h.app, 'GET', '/v1/portal/me', { token: who.token });
      expect(me.body.data.hasPaymentMethod).toBe(true);
      // The same message again changes nothing.
      expect((await refresh(who, setupIntentId)).body.data.last4).toBe('4444');
    });

    // The next purchase needs no card step: it is charged off-session on the new card.
    const bought = await h.checkout(who);
    expect(bought.status).toBe(202);
    const done = await h.purchaseReaches(who, bought.body.data.id, 'completed');
    expect(await chargedCard(done.id)).toBe(await stripeDefaultOf(who));
    expect((await h.env.row(done.id)).stripe_setup_intent_id).toBeNull();
  });

  it('a declined purchase is bought again with the new card, the portal told by the setup_intent.succeeded webhook', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const first = await h.checkout(who);
    const failed = await h.purchaseReaches(who, first.body.data.id, 'failed');
    expect(failed.failure.code).toBe('card_declined');
    expect((await getCard(who)).last4).toBe('0341');

    const setupIntentId = await startReplacement(who);
    const confirmed = await h.confirmSetupIntentOnStripe(setupIntentId, '4242424242424242');
    expect(confirmed.status).toBe('succeeded');
    // No message from the page: Stripe's webhook alone makes the card the default (then is recorded).
    await waitFor(async () => {
      const [recorded] = await h.env.sql`
        select id from stripe_events where object_id = ${setupIntentId} and type = 'setup_intent.succeeded'`;
      return recorded && (await stripeDefaultOf(who)) === confirmed.payment_method ? true : null;
    }, 'the webhook to make the new card the default');
    expect((await getCard(who)).last4).toBe('4242');
    const events = await h.env.sql<{ outcome: string; purchase_id: string | null }[]>`
      select outcome, purchase_id from stripe_events where object_id = ${setupIntentId} and type = 'setup_intent.succeeded'`;
    expect(events).toEqual([{ outcome: 'signaled', purchase_id: null }]);

    // "Use another card": a new purchase of the same pack (a new Idempotency-Key) is charged on it.
    const again = await h.checkout(who, { creditPackId: h.pack.id });
    expect(again.status).toBe(202);
    expect(again.body.data.id).not.toBe(failed.id);
    const done = await h.purchaseReaches(who, again.body.data.id, 'completed');
    expect(await chargedCard(done.id)).toBe(confirmed.payment_method);
    expect((await h.env.row(failed.id)).status).toBe('failed');
  });

  it('a duplicate or late webhook of an older replacement never displaces a newer card', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const older = await startReplacement(who);
    const newer = await startReplacement(who);
    await withoutStripeWebhooks(async () => {
      const olderPm = (await h.confirmSetupIntentOnStripe(older, '5555555555554444')).payment_method;
      const newerPm = (await h.confirmSetupIntentOnStripe(newer, '4242424242424242')).payment_method;
      expect((await refresh(who, newer)).status).toBe(200);
      expect(await stripeDefaultOf(who)).toBe(newerPm);
      // The older one's message, late: the newer card stays.
      const late = await refresh(who, older);
      expect(late.status).toBe(200);
      expect(late.body.data.last4).toBe('4242');
      expect(await stripeDefaultOf(who)).toBe(newerPm);
      expect(olderPm).not.toBe(newerPm);
    });
    // Stripe's webhooks of both, delivered now (in order), and the older one again: still the newer card.
    const olderEvent = await waitFor(async () => {
      const [row] = await h.env.sql<{ id: string; outcome: string }[]>`
        select id, outcome from stripe_events where object_id = ${older} and type = 'setup_intent.succeeded'`;
      return row ?? null;
    }, 'the older replacement webhook');
    expect(olderEvent.outcome).toBe('ignored');
    await h.emulator('POST', '/webhooks/resend', { eventId: olderEvent.id });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await getCard(who)).last4).toBe('4242');
  });

  it("a SetupIntent not of this customer's card replacements, or not succeeded, changes nothing (message and webhook)", async () => {
    const alice = await h.customer({ card: 'pm_card_visa' });
    const bob = await h.customer({ card: 'pm_card_visa' });
    const bobCard = await stripeDefaultOf(bob);
    await withoutStripeWebhooks(async () => {
      const alices = await startReplacement(alice);
      const alicePm = (await h.confirmSetupIntentOnStripe(alices, '5555555555554444')).payment_method;
      // Bob names Alice's succeeded replacement: not his.
      const res = await refresh(bob, alices);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('setup_intent_not_found');
      expect(await stripeDefaultOf(bob)).toBe(bobCard);
      // A forged event naming Bob in its metadata, for Alice's SetupIntent: re-read from Stripe, ignored.
      const forged = signedEvent('setup_intent.succeeded', {
        id: alices,
        object: 'setup_intent',
        status: 'succeeded',
        metadata: { purpose: 'card_replacement', customer_id: bob.id, organization_id: h.world.orgId },
      });
      const ack = await h.postWebhook(forged.body, forged.signature);
      expect(ack.status).toBe(200);
      expect(ack.body.data.outcome).toBe('ignored');
      expect(await stripeDefaultOf(bob)).toBe(bobCard);
      expect(await stripeDefaultOf(alice)).not.toBe(alicePm); // nor was Alice's changed by it

      // A SetupIntent made (not by the portal) on Alice's Stripe customer whose metadata names Bob:
      // it is not his card, whatever it says.
      const planted = await h.env.stripe.setupIntents.create({
        customer: alice.stripeCustomerId!,
        usage: 'off_session',
        metadata: { purpose: 'card_replacement', customer_id: bob.id, organization_id: h.world.orgId },
      });
      await h.confirmSetupIntentOnStripe(planted.id, '5555555555554444');
      expect((await refresh(bob, planted.id)).status).toBe(404);
      const plantedEvent = signedEvent('setup_intent.succeeded', {
        id: planted.id,
        object: 'setup_intent',
        status: 'succeeded',
        metadata: planted.metadata,
      });
      expect((await h.postWebhook(plantedEvent.body, plantedEvent.signature)).body.data.outcome).toBe(
        'ignored',
      );
      expect(await stripeDefaultOf(bob)).toBe(bobCard);

      // Bob's own replacement, not confirmed, announced as succeeded: ignored.
      const bobs = await startReplacement(bob);
      const early = signedEvent('setup_intent.succeeded', {
        id: bobs,
        object: 'setup_intent',
        status: 'succeeded',
        metadata: { purpose: 'card_replacement', customer_id: bob.id, organization_id: h.world.orgId },
      });
      const earlyAck = await h.postWebhook(early.body, early.signature);
      expect(earlyAck.body.data.outcome).toBe('ignored');
      expect(await stripeDefaultOf(bob)).toBe(bobCard);

      // A purchase's own add-a-card SetupIntent is not a card replacement.
      const carol = await h.customer({ plan: 'free' });
      const purchase = await h.checkout(carol);
      const waiting = await h.purchaseReaches(carol, purchase.body.data.id, 'awaiting_payment_method');
      const purchaseSetupIntent = setupIntentIdOf(waiting.nextAction.clientSecret);
      const notReplacement = await refresh(carol, purchaseSetupIntent);
      expect(notReplacement.status).toBe(404);
      expect(notReplacement.body.error.code).toBe('setup_intent_not_found');
      await call(h.app, 'POST', `/v1/portal/purchases/${waiting.id}/cancel`, { token: carol.token });
      // An id Stripe does not know.
      expect((await refresh(bob, 'seti_unknown000000')).status).toBe(404);
    });
  });

  it('validates the message: 400 validation_failed for a missing, malformed or extra field', async () => {
    const who = await h.customer();
    for (const body of [
      {},
      { setupIntentId: 'pi_123' },
      { setupIntentId: 42 },
      { setupIntentId: 'seti_1', extra: 1 },
    ]) {
      const res = await call(h.app, 'POST', '/v1/portal/payment-method/refresh', { token: who.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    for (const body of [{ card: '4242' }, [], { setupIntentId: 'seti_1' }]) {
      const res = await call(h.app, 'POST', '/v1/portal/payment-method', { token: who.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const empty = await call(h.app, 'POST', '/v1/portal/payment-method', { token: who.token, body: {} });
    expect(empty.status).toBe(201);
    const query = await call(h.app, 'POST', '/v1/portal/payment-method?x=1', { token: who.token });
    expect(query.status).toBe(400);
    const unauthorized = await call(h.app, 'POST', '/v1/portal/payment-method', {});
    expect(unauthorized.status).toBe(401);
  });

  it('503 service_unavailable while Stripe answers 500, creating nothing', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    await h.emulator('POST', '/faults', {
      match: { method: 'POST', path: '/v1/setup_intents' },
      action: { type: 'status', status: 500 },
    });
    const res = await call(h.app, 'POST', '/v1/portal/payment-method', { token: who.token });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('service_unavailable');
  });
});

describe('a new card and a paused auto top-up', () => {
  /** Uses credits as the operator's API does (a top-up may start). */
  const use = (who: PortalCustomer, credits: number) =>
    call(h.app, 'POST', `/v1/customers/${who.id}/usage`, {
      token: h.world.apiKey,
      body: { credits },
      headers: { 'idempotency-key': randomUUID() },
    });
  const autoTopUp = async (who: PortalCustomer) =>
    (await call(h.app, 'GET', '/v1/portal/auto-top-up', { token: who.token })).body.data;
  const topUps = async (who: PortalCustomer) =>
    (await call(h.app, 'GET', '/v1/portal/purchases', { token: who.token })).body.data
      .filter((p: any) => p.trigger === 'auto_top_up')
      .reverse();
  /** Waits until no top-up of the customer is in flight; answers their statuses, oldest first. */
  const settledTopUps = (who: PortalCustomer, count: number) =>
    waitFor(async () => {
      const all = await topUps(who);
      const done = all.filter((p: any) => ['completed', 'failed'].includes(p.status));
      return all.length === count && done.length === count ? all : null;
    }, `${count} settled top-ups`);

  async function replaceWith(who: PortalCustomer, card: string) {
    const setupIntentId = await startReplacement(who);
    const res = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${setupIntentId}/confirm`, {
      token: who.token,
      body: { card },
    });
    expect(res.body.data.status).toBe('succeeded');
    return setupIntentId;
  }

  it('three declined top-ups pause it (card_declined); a replaced card resumes it and the top-up is made on the new card', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const saved = await call(h.app, 'PUT', '/v1/portal/auto-top-up', {
      token: who.token,
      body: { enabled: true, thresholdCredits: 100, creditPackId: h.pack.id, monthlyLimit: 1_000_000 },
    });
    expect(saved.body.data).toMatchObject({ state: 'active' });
    // The saved card starts declining (its funds ran out): three top-ups in a row fail.
    const oldCard = (await stripeDefaultOf(who))!;
    await h.emulator('POST', `/payment_methods/${oldCard}/decline_charges`, {
      decline_code: 'insufficient_funds',
    });
    const { total } = (await call(h.app, 'GET', '/v1/portal/balance', { token: who.token })).body.data;
    expect((await use(who, total - 50)).status).toBe(200);
    await settledTopUps(who, 1);
    expect((await use(who, 10)).status).toBe(200);
    await settledTopUps(who, 2);
    expect((await use(who, 10)).status).toBe(200);
    const failed = await settledTopUps(who, 3);
    expect(failed.map((p: any) => p.failure?.code)).toEqual([
      'card_declined',
      'card_declined',
      'card_declined',
    ]);
    expect(await autoTopUp(who)).toMatchObject({ state: 'paused', pausedReason: 'card_declined' });

    const setupIntentId = await replaceWith(who, '4242424242424242');
    expect(await autoTopUp(who)).toMatchObject({ state: 'active', pausedReason: null });
    // The total (30) is below the threshold: the top-up is made at once, on the new card.
    const after = await settledTopUps(who, 4);
    expect(after.map((p: any) => p.status)).toEqual(['failed', 'failed', 'failed', 'completed']);
    const newCard = await stripeDefaultOf(who);
    expect(newCard).not.toBe(oldCard);
    expect(await chargedCard(after[3].id)).toBe(newCard);
    const balance = (await call(h.app, 'GET', '/v1/portal/balance', { token: who.token })).body.data;
    expect(balance.total).toBe(30 + 500);

    // Paused again later (here by hand): the same card's message again, or its webhook delivered once
    // more, is no new card, so it stays paused.
    await h.env.sql`select pause_auto_top_up(${h.world.orgId}, ${who.id}, 'card_declined', now())`;
    expect(await autoTopUp(who)).toMatchObject({ state: 'paused', pausedReason: 'card_declined' });
    expect((await refresh(who, setupIntentId)).status).toBe(200);
    const event = await waitFor(async () => {
      const [row] = await h.env.sql<{ id: string }[]>`
        select id from stripe_events where object_id = ${setupIntentId} and type = 'setup_intent.succeeded'`;
      return row ?? null;
    }, 'the replacement webhook');
    await h.emulator('POST', '/webhooks/resend', { eventId: event.id });
    await waitFor(async () => {
      const [row] = await h.env.sql<{ deliveries: number }[]>`
        select deliveries from stripe_events where id = ${event.id}`;
      return (row?.deliveries ?? 0) >= 2 ? true : null;
    }, 'the webhook delivered again');
    expect(await autoTopUp(who)).toMatchObject({ state: 'paused', pausedReason: 'card_declined' });
    expect(await topUps(who)).toHaveLength(4);
  });

  it('a pause a card did not cause (monthly limit) stays paused after a new card', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    await call(h.app, 'PUT', '/v1/portal/auto-top-up', {
      token: who.token,
      body: { enabled: true, thresholdCredits: 100, creditPackId: h.pack.id, monthlyLimit: 1000 },
    });
    const { total } = (await call(h.app, 'GET', '/v1/portal/balance', { token: who.token })).body.data;
    expect((await use(who, total - 50)).status).toBe(200);
    expect(await autoTopUp(who)).toMatchObject({ state: 'paused', pausedReason: 'monthly_limit' });
    const before = await stripeDefaultOf(who);
    await replaceWith(who, '4242424242424242');
    expect(await stripeDefaultOf(who)).not.toBe(before);
    expect(await autoTopUp(who)).toMatchObject({ state: 'paused', pausedReason: 'monthly_limit' });
    expect(await topUps(who)).toEqual([]);
  });
});

describe('test mode: the page confirms a card replacement through the portal', () => {
  it('confirm with a test card makes it the default at once; a 3-D Secure card after authentication', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    await withoutStripeWebhooks(async () => {
      const plain = await startReplacement(who);
      const res = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${plain}/confirm`, {
        token: who.token,
        body: { card: '4242424242424242' },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ id: plain, status: 'succeeded', requiresAction: false });
      expect((await getCard(who)).last4).toBe('4242');

      const secure = await startReplacement(who);
      const needs = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${secure}/confirm`, {
        token: who.token,
        body: { card: '4000002760003184' },
      });
      expect(needs.body.data).toEqual({ id: secure, status: 'requires_action', requiresAction: true });
      expect((await getCard(who)).last4).toBe('4242');
      const done = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${secure}/authenticate`, {
        token: who.token,
        body: { outcome: 'succeed' },
      });
      expect(done.body.data.status).toBe('succeeded');
      expect((await getCard(who)).last4).toBe('3184');

      // Another customer cannot confirm it.
      const other = await h.customer();
      const third = await startReplacement(who);
      const refused = await call(h.app, 'POST', `/v1/portal/test-mode/setup-intents/${third}/confirm`, {
        token: other.token,
        body: { card: '4242424242424242' },
      });
      expect(refused.status).toBe(404);
      expect((await h.env.stripe.setupIntents.retrieve(third)).status).toBe('requires_payment_method');
    });
  });
});
