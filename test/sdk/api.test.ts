import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditPacks, CreditPacksError, type Purchase } from '../../packages/sdk/src/index';
import type { PortalHarness } from '../checkout/harness';
import { adminClient, intentOf, sdkHarness } from './helpers';

let h: PortalHarness;
let client: CreditPacks;
beforeAll(async () => {
  h = await sdkHarness();
  client = adminClient(h);
});
afterAll(() => h?.close());

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const portalOf = (token: string) => CreditPacks.portal({ token, baseUrl: h.url, maxRetries: 0 });
const unique = (base: string) => `${base} ${randomUUID().slice(0, 8)}`;

/** Polls the portal until the purchase is `status`. */
async function reaches(portal: ReturnType<typeof portalOf>, id: string, status: Purchase['status']) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await portal.purchases.retrieve(id);
    if (res.success && res.data.status === status) return res.data;
    if (Date.now() > deadline)
      throw new Error(`purchase ${id} never reached ${status}: ${JSON.stringify(res)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the product page's call: client.creditPacks.list()", () => {
  it('resolves to exactly the envelope { success: true, data: [...] } with the seed fields', async () => {
    const packs = await client.creditPacks.list();
    expect(Object.keys(packs).sort()).toEqual(['data', 'success']);
    expect(packs.success).toBe(true);
    if (!packs.success) throw new Error('unreachable');
    expect(Array.isArray(packs.data)).toBe(true);
    const pack = packs.data.find((p) => p.id === h.pack.id)!;
    // The seed's fields, as the seed shows them; the admin pack also carries visibility and timestamps.
    expect(pack).toMatchObject({
      id: h.pack.id,
      name: h.pack.name,
      description: null,
      credits: 500,
      price: 4000,
      currency: 'usd',
    });
    expect(pack.id).toMatch(/^cpk_/);
  });

  it("the portal's list answers each pack exactly in the seed's six fields", async () => {
    const who = await h.customer();
    const packs = await portalOf(who.token).creditPacks.list();
    expect(Object.keys(packs).sort()).toEqual(['data', 'success']);
    if (!packs.success) throw new Error(JSON.stringify(packs));
    expect(packs.data.length).toBeGreaterThan(0);
    for (const pack of packs.data) {
      expect(Object.keys(pack).sort()).toEqual(['credits', 'currency', 'description', 'id', 'name', 'price']);
    }
    expect(packs.data).toContainEqual({
      id: h.pack.id,
      name: h.pack.name,
      description: null,
      credits: 500,
      price: 4000,
      currency: 'usd',
    });
  });
});

describe('admin client: every method against the real API', () => {
  it('credit packs: create, retrieve, update, list, archive (twice: idempotent), list filtered by archived', async () => {
    const created = await client.creditPacks.create({
      name: unique('Starter Pack'),
      description: '100 credits for light usage',
      credits: 100,
      price: 1000,
    });
    if (!created.success) throw new Error(JSON.stringify(created));
    expect(created.data).toMatchObject({ credits: 100, price: 1000, currency: 'usd', archived: false });
    const id = created.data.id;

    expect(await client.creditPacks.retrieve(id)).toEqual({ success: true, data: created.data });

    const updated = await client.creditPacks.update(id, { price: 1200 });
    expect(updated.success && updated.data.price).toBe(1200);

    const listed = await client.creditPacks.list();
    expect(listed.success && listed.data.map((p) => p.id)).toContain(id);

    const archived = await client.creditPacks.archive(id);
    expect(archived.success && archived.data.archived).toBe(true);
    const again = await client.creditPacks.archive(id);
    expect(again.success && again.data.archived).toBe(true);

    // Archived packs are listed unless filtered out.
    const active = await client.creditPacks.list({ archived: false });
    expect(active.success && active.data.map((p) => p.id)).not.toContain(id);
    const onlyArchived = await client.creditPacks.list({ archived: true });
    expect(onlyArchived.success && onlyArchived.data.map((p) => p.id)).toContain(id);
  });

  it('plans: create, retrieve, list', async () => {
    const plan = await client.plans.create({
      name: unique('Team'),
      consumptionModel: 'credits',
      includedCredits: 10,
    });
    if (!plan.success) throw new Error(JSON.stringify(plan));
    expect(await client.plans.retrieve(plan.data.id)).toEqual({ success: true, data: plan.data });
    const plans = await client.plans.list();
    expect(plans.success && plans.data.map((p) => p.id)).toContain(plan.data.id);
  });

  it('customers, subscriptions, portal sessions: create, retrieve, list, update, balance', async () => {
    const customer = await client.customers.create({ email: `${randomUUID()}@example.test`, name: 'Sam' });
    if (!customer.success) throw new Error(JSON.stringify(customer));
    const id = customer.data.id;
    expect(await client.customers.retrieve(id)).toEqual({ success: true, data: customer.data });
    const customers = await client.customers.list({ limit: 500 });
    expect(customers.success && customers.data.map((c) => c.id)).toContain(id);
    expect(await client.customers.retrieveBalance(id)).toEqual({
      success: true,
      data: { planCredits: 0, purchasedCredits: 0, total: 0 },
    });

    const subscription = await client.subscriptions.create({ customerId: id, planId: h.world.plans.pro.id });
    if (!subscription.success) throw new Error(JSON.stringify(subscription));
    expect(subscription.data).toMatchObject({ customerId: id, status: 'active' });
    expect(await client.subscriptions.retrieve(subscription.data.id)).toEqual(subscription);
    const updated = await client.subscriptions.update(subscription.data.id, { status: 'past_due' });
    expect(updated.success && updated.data.status).toBe('past_due');
    const listed = await client.subscriptions.list({ customerId: id });
    expect(listed.success && listed.data.map((s) => s.id)).toEqual([subscription.data.id]);

    const session = await client.portalSessions.create({ customerId: id });
    if (!session.success) throw new Error(JSON.stringify(session));
    expect(session.data.token).toMatch(/^pst_/);
    expect(session.data.url).toContain('/portal#token=');
    // The session opens that customer's portal.
    const me = await portalOf(session.data.token).me.retrieve();
    expect(me.success && me.data.customer.id).toBe(id);
  });

  it('purchases: list, retrieve and cancel one still waiting for a card', async () => {
    const who = await h.customer({ plan: 'free' });
    const portal = portalOf(who.token);
    const checkout = await portal.purchases.create({ creditPackId: h.pack.id });
    if (!checkout.success) throw new Error(JSON.stringify(checkout));
    await reaches(portal, checkout.data.id, 'awaiting_payment_method');

    const listed = await client.purchases.list({ customerId: who.id });
    expect(listed.success && listed.data.map((p) => p.id)).toEqual([checkout.data.id]);
    const one = await client.purchases.retrieve(checkout.data.id);
    expect(one.success && one.data).toMatchObject({ id: checkout.data.id, customerId: who.id });

    const canceled = await client.purchases.cancel(checkout.data.id);
    expect(canceled.success && canceled.data.status).toBe('canceled');
    const twice = await client.purchases.cancel(checkout.data.id);
    expect(twice).toEqual({
      success: false,
      error: { code: 'purchase_not_cancelable', message: expect.any(String) },
    });
  });
});

describe('portal client: the customer flow', () => {
  it('card on file: packs, checkout (202), the purchase completes, balance, list, me, settings', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = portalOf(who.token);
    const before = await portal.balance.retrieve();
    if (!before.success) throw new Error(JSON.stringify(before));

    const bought = await portal.purchases.create({ creditPackId: h.pack.id, quantity: 2 });
    if (!bought.success) throw new Error(JSON.stringify(bought));
    expect(bought.data).toMatchObject({ creditPackId: h.pack.id, quantity: 2, credits: 1000, price: 8000 });
    await reaches(portal, bought.data.id, 'completed');

    expect(await portal.balance.retrieve()).toEqual({
      success: true,
      data: {
        planCredits: before.data.planCredits,
        purchasedCredits: before.data.purchasedCredits + 1000,
        total: before.data.total + 1000,
      },
    });
    const listed = await portal.purchases.list({ status: 'completed', limit: 10 });
    expect(listed.success && listed.data.map((p) => p.id)).toEqual([bought.data.id]);
    const me = await portal.me.retrieve();
    expect(me.success && me.data).toMatchObject({ hasPaymentMethod: true, canPurchase: { ok: true } });
    const settings = await portal.settings.retrieve();
    expect(settings.success && settings.data.testMode).toBe(true);
  });

  it('the same idempotencyKey twice is one purchase; the same key with another body is refused', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = portalOf(who.token);
    const idempotencyKey = randomUUID();
    const first = await portal.purchases.create({ creditPackId: h.pack.id }, { idempotencyKey });
    const second = await portal.purchases.create({ creditPackId: h.pack.id }, { idempotencyKey });
    if (!first.success || !second.success) throw new Error(JSON.stringify([first, second]));
    expect(second.data.id).toBe(first.data.id);
    const reused = await portal.purchases.create(
      { creditPackId: h.pack.id, quantity: 3 },
      { idempotencyKey },
    );
    expect(reused.success === false && reused.error.code).toBe('idempotency_key_reused');
    // Without a key, each call is a new purchase (the SDK generates one per call).
    const third = await portal.purchases.create({ creditPackId: h.pack.id });
    expect(third.success && third.data.id).not.toBe(first.data.id);
    for (const id of [first.data.id, third.success ? third.data.id : ''])
      await reaches(portal, id, 'completed');
  });

  it('no card: the purchase asks for one; test mode adds a 3-D Secure card, authenticates, completes', async () => {
    const who = await h.customer({ plan: 'free' });
    const portal = portalOf(who.token);
    const cards = await portal.testMode.cards.list();
    expect(cards.success && cards.data.map((c) => c.number.slice(-4))).toEqual([
      '4242',
      '0341',
      '3184',
      '9995',
    ]);

    const bought = await portal.purchases.create({ creditPackId: h.pack.id });
    if (!bought.success) throw new Error(JSON.stringify(bought));
    const waiting = await reaches(portal, bought.data.id, 'awaiting_payment_method');
    expect(waiting.nextAction?.type).toBe('add_payment_method');

    const setupIntentId = intentOf(waiting);
    const confirmed = await portal.testMode.setupIntents.confirm(setupIntentId, { card: '4000002760003184' });
    expect(confirmed.success && confirmed.data.requiresAction).toBe(true);
    const authenticated = await portal.testMode.setupIntents.authenticate(setupIntentId, {
      outcome: 'succeed',
    });
    expect(authenticated.success && authenticated.data.status).toBe('succeeded');

    const needs3ds = await reaches(portal, bought.data.id, 'requires_action');
    expect(needs3ds.nextAction?.type).toBe('authenticate');
    const paid = await portal.testMode.paymentIntents.authenticate(intentOf(needs3ds), {
      outcome: 'succeed',
    });
    expect(paid.success).toBe(true);
    await reaches(portal, bought.data.id, 'completed');
  });

  it('cancel: a purchase waiting for a card is canceled, nothing charged', async () => {
    const who = await h.customer({ plan: 'free' });
    const portal = portalOf(who.token);
    const bought = await portal.purchases.create({ creditPackId: h.pack.id });
    if (!bought.success) throw new Error(JSON.stringify(bought));
    await reaches(portal, bought.data.id, 'awaiting_payment_method');
    const canceled = await portal.purchases.cancel(bought.data.id);
    expect(canceled.success && canceled.data).toMatchObject({ id: bought.data.id, status: 'canceled' });
  });
});

describe('bad input and errors', () => {
  it('a refused request resolves to the error envelope, exactly as the API answers it', async () => {
    const res = await client.creditPacks.create({ name: '', credits: -1, price: 1000 });
    expect(Object.keys(res).sort()).toEqual(['error', 'success']);
    expect(res).toEqual({
      success: false,
      error: { code: 'validation_failed', message: expect.any(String) },
    });

    const missing = await client.creditPacks.retrieve('cpk_doesNotExist123');
    expect(missing).toEqual({
      success: false,
      error: { code: 'credit_pack_not_found', message: expect.any(String) },
    });
    // An id with characters that need encoding stays one path segment.
    const odd = await client.customers.retrieve('cus_a/b?c');
    expect(odd.success === false && odd.error.code).toMatch(/^(validation_failed|customer_not_found)$/);
  });

  it('throwOnError: a typed CreditPacksError with code, message, status and the Request-Id the server sent', async () => {
    const strict = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: h.url, throwOnError: true });
    // Success resolves to the envelope's success side.
    const ok = await strict.creditPacks.list();
    expect(ok.success).toBe(true);
    expect(ok.data.length).toBeGreaterThan(0);

    const error = await strict.creditPacks
      .create({ name: 'x', credits: 0, price: 1000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CreditPacksError);
    expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
    expect((error as CreditPacksError).requestId).toMatch(/^req_[A-Za-z0-9]{16}$/);
    expect((error as CreditPacksError).message).toMatch(/credits/);

    const wrongKey = new CreditPacks({ apiKey: 'orgkey_wrong', baseUrl: h.url, throwOnError: true });
    await expect(wrongKey.plans.list()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });

    const portal = CreditPacks.portal({ token: 'pst_forged', baseUrl: h.url, throwOnError: true });
    await expect(portal.balance.retrieve()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('portal checkout refusals: an unknown pack, a quantity over the limit, a past-due customer', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = portalOf(who.token);
    const unknown = await portal.purchases.create({ creditPackId: 'cpk_doesNotExist123' });
    expect(unknown.success === false && unknown.error.code).toBe('credit_pack_not_found');
    const tooMany = await portal.purchases.create({ creditPackId: h.pack.id, quantity: 10_000 });
    expect(tooMany.success === false && tooMany.error.code).toMatch(
      /^(validation_failed|quantity_exceeds_limit)$/,
    );
    const pastDue = await h.customer({ status: 'past_due' });
    const refused = await portalOf(pastDue.token).purchases.create({ creditPackId: h.pack.id });
    expect(refused.success === false && refused.error.code).toBe('subscription_past_due');
  });

  it('no server: connection_error, with status null when thrown', async () => {
    const closed = await closedPort();
    const nowhere = new CreditPacks({
      apiKey: 'orgkey_x',
      baseUrl: `http://127.0.0.1:${closed}`,
      maxRetries: 0,
    });
    const res = await nowhere.plans.list();
    expect(res).toEqual({
      success: false,
      error: { code: 'connection_error', message: expect.stringContaining('ECONNREFUSED') },
    });
    const strict = CreditPacks.portal({
      token: 'pst_x',
      baseUrl: `http://127.0.0.1:${closed}`,
      maxRetries: 0,
      throwOnError: true,
    });
    await expect(strict.balance.retrieve()).rejects.toMatchObject({ code: 'connection_error', status: null });
  });

  it('a missing credential is refused at construction', () => {
    expect(() => new CreditPacks({ apiKey: '' })).toThrow(TypeError);
  });
});
