// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issuePortalToken, verifyPortalToken } from '../../src/auth/portal-tokens';
import {
  call,
  config,
  insertPurchase,
  newCustomer,
  newPack,
  newWorld,
  ok,
  useHarness,
  type World,
} from '../catalog/helpers';

const h = useHarness();

const packIds = async (token: string) =>
  (await ok(h.app, 'GET', '/v1/portal/credit-packs', { token })).map((p: any) => p.id);

/** A world with: a pack for all credits plans, an enterprise-only pack, an archived pack. */
async function catalog(w: World) {
  const everyone = await newPack(h.app, w, { name: 'Starter Pack', credits: 100, price: 1000 });
  const bulk = await newPack(h.app, w, {
    name: 'Enterprise Bulk',
    credits: 25000,
    price: 150000,
    visibility: { type: 'plans', planIds: [w.plans.enterprise.id] },
  });
  const archived = await newPack(h.app, w, { name: 'Legacy', credits: 50, price: 500 });
  await ok(h.app, 'POST', `/v1/credit-packs/${archived.id}/archive`, { token: w.apiKey, status: 200 });
  return { everyone, bulk, archived };
}

describe('GET /v1/portal/credit-packs', () => {
  it("returns the seed's exact list shape", async () => {
    const w = await newWorld(h.app);
    const pack = await newPack(h.app, w, {
      name: 'Starter Pack',
      description: '100 credits for light usage',
      credits: 100,
      price: 1000,
    });
    const { token } = await newCustomer(h.app, w, w.plans.pro.id);
    const res = await call(h.app, 'GET', '/v1/portal/credit-packs', { token });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toStrictEqual({
      success: true,
      data: [
        {
          id: pack.id,
          name: 'Starter Pack',
          description: '100 credits for light usage',
          credits: 100,
          price: 1000,
          currency: 'usd',
        },
      ],
    });
    expect(Object.keys(res.body.data[0])).toEqual([
      'id',
      'name',
      'description',
      'credits',
      'price',
      'currency',
    ]);
  });

  it('shows packs for all credits plans to every credits plan, listed-plan packs only to those plans', async () => {
    const w = await newWorld(h.app);
    const { everyone, bulk } = await catalog(w);
    const pro = await newCustomer(h.app, w, w.plans.pro.id);
    const enterprise = await newCustomer(h.app, w, w.plans.enterprise.id);
    const free = await newCustomer(h.app, w, w.plans.free.id);
    expect(await packIds(pro.token)).toEqual([everyone.id]);
    expect(await packIds(free.token)).toEqual([everyone.id]);
    expect(await packIds(enterprise.token)).toEqual([everyone.id, bulk.id]);

    // opening the bulk pack to all plans, then restricting it to Pro, moves it accordingly
    await ok(h.app, 'PATCH', `/v1/credit-packs/${bulk.id}`, {
      token: w.apiKey,
      body: { visibility: { type: 'all_credits_plans' } },
    });
    expect(await packIds(pro.token)).toEqual([everyone.id, bulk.id]);
    await ok(h.app, 'PATCH', `/v1/credit-packs/${bulk.id}`, {
      token: w.apiKey,
      body: { visibility: { type: 'plans', planIds: [w.plans.pro.id] } },
    });
    expect(await packIds(pro.token)).toEqual([everyone.id, bulk.id]);
    expect(await packIds(enterprise.token)).toEqual([everyone.id]);
  });

  it('offers nothing to plans that are not credits-based', async () => {
    const w = await newWorld(h.app);
    await catalog(w);
    const metered = await newCustomer(h.app, w, w.plans.metered.id);
    expect(await packIds(metered.token)).toEqual([]);
    const seatsPlan = await ok(h.app, 'POST', '/v1/plans', {
      token: w.apiKey,
      body: { name: 'Seats', consumptionModel: 'seats' },
    });
    const seats = await newCustomer(h.app, w, seatsPlan.id);
    expect(await packIds(seats.token)).toEqual([]);
  });

  it('hides archived packs', async () => {
    const w = await newWorld(h.app);
    const { everyone, archived } = await catalog(w);
    const c = await newCustomer(h.app, w, w.plans.enterprise.id);
    expect(await packIds(c.token)).not.toContain(archived.id);
    await ok(h.app, 'POST', `/v1/credit-packs/${everyone.id}/archive`, { token: w.apiKey, status: 200 });
    expect(await packIds(c.token)).not.toContain(everyone.id);
  });

  it('offers packs to trialing and free-plan customers, even without a card, but not past due, canceled or ended', async () => {
    const w = await newWorld(h.app);
    const { everyone } = await catalog(w);
    const trialing = await newCustomer(h.app, w, w.plans.pro.id, 'trialing');
    const freeNoCard = await newCustomer(h.app, w, w.plans.free.id, 'active');
    expect(await packIds(trialing.token)).toEqual([everyone.id]);
    expect(await packIds(freeNoCard.token)).toEqual([everyone.id]);
    for (const status of ['past_due', 'canceled', 'ended']) {
      const c = await newCustomer(h.app, w, w.plans.pro.id, status);
      expect(await packIds(c.token), status).toEqual([]);
      const me = await ok(h.app, 'GET', '/v1/portal/me', { token: c.token });
      expect(me.canPurchase).toMatchObject({ ok: false, code: `subscription_${status}` });
    }
    const none = await newCustomer(h.app, w, null);
    expect(await packIds(none.token)).toEqual([]);
  });

  it('follows subscription changes made by the admin (status and plan)', async () => {
    const w = await newWorld(h.app);
    const { everyone, bulk } = await catalog(w);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    expect(await packIds(c.token)).toEqual([everyone.id]);
    await ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, {
      token: w.apiKey,
      body: { status: 'past_due' },
    });
    expect(await packIds(c.token)).toEqual([]);
    await ok(h.app, 'PATCH', `/v1/subscriptions/${c.subscription.id}`, {
      token: w.apiKey,
      body: { status: 'active', planId: w.plans.enterprise.id },
    });
    expect(await packIds(c.token)).toEqual([everyone.id, bulk.id]);
  });
});

describe('GET /v1/portal/me and /v1/portal/balance', () => {
  it('describes the customer and whether they can buy', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.free.id, 'trialing');
    const me = await ok(h.app, 'GET', '/v1/portal/me', { token: c.token });
    expect(me).toEqual({
      customer: { id: c.customer.id, name: 'Customer', email: c.customer.email },
      subscription: { id: c.subscription.id, status: 'trialing', planId: w.plans.free.id, planName: 'Free' },
      hasPaymentMethod: false,
      canPurchase: { ok: true, code: null, message: null },
    });
  });

  it('keeps plan and purchased credits apart, and the total equals the ledger sum', async () => {
    const w = await newWorld(h.app);
    const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    // the Pro subscription's plan credits of its first period
    expect(await ok(h.app, 'GET', '/v1/portal/balance', { token: c.token })).toEqual({
      planCredits: 1000,
      purchasedCredits: 0,
      total: 1000,
    });
    const purchaseId = await insertPurchase(h.sql, {
      orgId: w.orgId,
      customerId: c.customer.id,
      pack,
      quantity: 2,
      status: 'crediting',
    });
    await h.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id) values
        (${w.orgId}, ${c.customer.id}, 'plan', 'plan_grant', 1000, null),
        (${w.orgId}, ${c.customer.id}, 'plan', 'usage', -300, null),
        (${w.orgId}, ${c.customer.id}, 'purchased', 'purchase_grant', 1000, ${purchaseId}),
        (${w.orgId}, ${c.customer.id}, 'purchased', 'usage', -50, null)`;
    const balance = await ok(h.app, 'GET', '/v1/portal/balance', { token: c.token });
    expect(balance).toEqual({ planCredits: 1700, purchasedCredits: 950, total: 2650 });
    const [sum] = await h.sql<{ total: string }[]>`
      select sum(credits)::text as total from credit_ledger where customer_id = ${c.customer.id}`;
    expect(Number(sum!.total)).toBe(balance.total);
    // the admin sees the same balance
    expect(await ok(h.app, 'GET', `/v1/customers/${c.customer.id}/balance`, { token: w.apiKey })).toEqual(
      balance,
    );
  });
});

describe('portal purchases and isolation', () => {
  it('lists and reads only the customer own purchases, in the docs/api.md shape', async () => {
    const w = await newWorld(h.app);
    const pack = await newPack(h.app, w, { credits: 100, price: 1000 });
    const alice = await newCustomer(h.app, w, w.plans.pro.id);
    const bob = await newCustomer(h.app, w, w.plans.pro.id);
    const mine = await insertPurchase(h.sql, {
      orgId: w.orgId,
      customerId: alice.customer.id,
      pack,
      quantity: 3,
    });
    const theirs = await insertPurchase(h.sql, { orgId: w.orgId, customerId: bob.customer.id, pack });

    const list = await ok(h.app, 'GET', '/v1/portal/purchases', { token: alice.token });
    expect(list.map((p: any) => p.id)).toEqual([mine]);
    const one = await ok(h.app, 'GET', `/v1/portal/purchases/${mine}`, { token: alice.token });
    expect(one).toStrictEqual({
      id: mine,
      status: 'pending',
      creditPackId: pack.id,
      quantity: 3,
      credits: 300,
      price: 3000,
      currency: 'usd',
      nextAction: null,
      failure: null,
      trigger: 'portal',
      refundedAmount: 0,
      creditsReversed: 0,
      dispute: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    const other = await call(h.app, 'GET', `/v1/portal/purchases/${theirs}`, { token: alice.token });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('purchase_not_found');

    // the admin filters by customer and status
    const byCustomer = await ok(h.app, 'GET', `/v1/purchases?customerId=${bob.customer.id}`, {
      token: w.apiKey,
    });
    expect(byCustomer.map((p: any) => [p.id, p.customerId])).toEqual([[theirs, bob.customer.id]]);
    expect(await ok(h.app, 'GET', '/v1/purchases?status=completed', { token: w.apiKey })).toEqual([]);
    const pending = await ok(h.app, 'GET', '/v1/purchases?status=pending', { token: w.apiKey });
    expect(pending.map((p: any) => p.id).sort()).toEqual([mine, theirs].sort());
  });

  it("an organization's key never reads another organization's data", async () => {
    const w = await newWorld(h.app);
    const intruder = await newWorld(h.app);
    const pack = await newPack(h.app, w);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const purchase = await insertPurchase(h.sql, { orgId: w.orgId, customerId: c.customer.id, pack });
    const ownCustomer = (await newCustomer(h.app, intruder, null)).customer;
    const probes: [string, string, unknown?][] = [
      ['GET', `/v1/customers/${c.customer.id}`],
      ['GET', `/v1/customers/${c.customer.id}/balance`],
      ['GET', `/v1/plans/${w.plans.pro.id}`],
      ['GET', `/v1/subscriptions/${c.subscription.id}`],
      ['PATCH', `/v1/subscriptions/${c.subscription.id}`, { status: 'canceled' }],
      ['GET', `/v1/purchases/${purchase}`],
      ['POST', '/v1/portal-sessions', { customerId: c.customer.id }],
      ['POST', '/v1/subscriptions', { customerId: c.customer.id, planId: intruder.plans.pro.id }],
      ['POST', '/v1/subscriptions', { customerId: ownCustomer.id, planId: w.plans.pro.id }],
    ];
    for (const [method, url, body] of probes) {
      const res = await call(h.app, method as 'GET', url, { token: intruder.apiKey, body });
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.success).toBe(false);
    }
    expect(await ok(h.app, 'GET', '/v1/customers', { token: intruder.apiKey })).toEqual([ownCustomer]);
    for (const url of ['/v1/subscriptions', '/v1/purchases', '/v1/credit-packs']) {
      expect(await ok(h.app, 'GET', url, { token: intruder.apiKey }), url).toEqual([]);
    }
    // nothing changed
    const sub = await ok(h.app, 'GET', `/v1/subscriptions/${c.subscription.id}`, { token: w.apiKey });
    expect(sub.status).toBe('active');
  });

  it('a soft-deleted customer is gone: sessions end, admin reads 404, history stays', async () => {
    const w = await newWorld(h.app);
    const pack = await newPack(h.app, w);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const purchase = await insertPurchase(h.sql, { orgId: w.orgId, customerId: c.customer.id, pack });
    await h.sql`update customers set deleted_at = now() where id = ${c.customer.id}`;
    for (const url of ['/v1/portal/credit-packs', '/v1/portal/balance', '/v1/portal/purchases']) {
      expect((await call(h.app, 'GET', url, { token: c.token })).status, url).toBe(401);
    }
    expect((await call(h.app, 'GET', `/v1/customers/${c.customer.id}`, { token: w.apiKey })).status).toBe(
      404,
    );
    const session = await call(h.app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: c.customer.id },
    });
    expect(session.body.error.code).toBe('customer_not_found');
    expect(await ok(h.app, 'GET', '/v1/customers', { token: w.apiKey })).toEqual([]);
    expect((await ok(h.app, 'GET', `/v1/purchases/${purchase}`, { token: w.apiKey })).customerId).toBe(
      c.customer.id,
    );
  });

  it('refuses forged, tampered, expired and wrong-kind credentials', async () => {
    const w = await newWorld(h.app);
    await newPack(h.app, w);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const other = await newCustomer(h.app, w, w.plans.pro.id);
    const [head, sig] = c.token.split('.');
    const otherPayload = other.token.split('.')[0];
    const expired = issuePortalToken(
      config.PORTAL_SESSION_SECRET,
      { organizationId: w.orgId, customerId: c.customer.id },
      60,
      new Date(Date.now() - 3_600_000),
    ).token;
    const forged = issuePortalToken(
      'another-secret-another-secret-another-secret',
      { organizationId: w.orgId, customerId: c.customer.id },
      600,
    ).token;
    const bad = [
      undefined,
      'not-a-token',
      `${head}.${sig}x`,
      `${otherPayload}.${sig}`,
      `${head}`,
      expired,
      forged,
      w.apiKey, // an admin key is not a portal session
      config.PLATFORM_ADMIN_TOKEN,
    ];
    for (const token of bad) {
      const res = await call(h.app, 'GET', '/v1/portal/credit-packs', token ? { token } : {});
      expect(res.status, String(token)).toBe(401);
      expect(res.body).toEqual({
        success: false,
        error: { code: 'unauthorized', message: expect.any(String) },
      });
    }
    // and a portal token is not an admin key
    for (const token of [c.token, config.PLATFORM_ADMIN_TOKEN, 'orgkey_doesnotexist']) {
      const res = await call(h.app, 'GET', '/v1/credit-packs', { token });
      expect(res.status).toBe(401);
    }
    // nor a platform token
    const res = await call(h.app, 'POST', '/v1/organizations', { token: w.apiKey, body: { name: 'x' } });
    expect(res.status).toBe(401);
  });
});

describe('POST /v1/organizations: the API key is shown once and stored hashed', () => {
  it('stores sha256(key) and a short hint, and the plaintext key in no column', async () => {
    const created = await ok(h.app, 'POST', '/v1/organizations', {
      token: config.PLATFORM_ADMIN_TOKEN,
      body: { name: 'Hashed Keys Inc' },
    });
    const apiKey = created.apiKey as string;
    expect(apiKey.length).toBeGreaterThanOrEqual(32);
    const [row] = await h.sql<Record<string, unknown>[]>`
      select * from organizations where id = ${created.organization.id}`;
    expect(row).toBeDefined();
    expect(row!.api_key_hash).toBe(createHash('sha256').update(apiKey, 'utf8').digest('hex'));
    // Every column, as text: none holds the key (the hint is its prefix only, shorter than the key).
    const [asText] = await h.sql<{ row: string }[]>`
      select o::text as row from organizations o where id = ${created.organization.id}`;
    expect(asText!.row).not.toContain(apiKey);
    for (const [column, value] of Object.entries(row!)) {
      expect(String(value), column).not.toContain(apiKey);
    }
    expect(String(row!.api_key_hint).replace('…', '').length).toBeLessThan(apiKey.length / 2);
    // The key works, and is never shown again (reads carry no key).
    const plans = await ok(h.app, 'GET', '/v1/plans', { token: apiKey });
    expect(plans).toEqual([]);
  });
});

describe('POST /v1/portal-sessions', () => {
  it('answers { id, token, expiresAt, url }: a working token, expiring after PORTAL_SESSION_TTL_SECONDS, and its link', async () => {
    const w = await newWorld(h.app);
    const { customer } = await newCustomer(h.app, w, w.plans.pro.id);
    const before = Date.now();
    const res = await call(h.app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: customer.id },
    });
    const after = Date.now();
    expect(res.status).toBe(201);
    const session = res.body.data;
    expect(Object.keys(session).sort()).toEqual(['expiresAt', 'id', 'token', 'url']);
    expect(session.token).toMatch(/^pst_/);
    // expiresAt: an ISO date-time, now + the TTL (token expiry is in whole seconds).
    expect(new Date(session.expiresAt).toISOString()).toBe(session.expiresAt);
    const expiresAt = Date.parse(session.expiresAt);
    const ttlMs = config.PORTAL_SESSION_TTL_SECONDS * 1000;
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + ttlMs);
    expect(expiresAt).toBeLessThanOrEqual(after + ttlMs);
    expect(verifyPortalToken(config.PORTAL_SESSION_SECRET, session.token)).toEqual({
      organizationId: w.orgId,
      customerId: customer.id,
      expiresAt: expiresAt / 1000,
      sessionId: session.id,
    });
    // The link opens the portal page with the token in the fragment (never sent to the server).
    expect(session.url).toBe(`${config.portalUrl}/portal#token=${encodeURIComponent(session.token)}`);
    expect(new URL(session.url).hash).toBe(`#token=${encodeURIComponent(session.token)}`);
    // The token is the customer's portal credential.
    const me = await ok(h.app, 'GET', '/v1/portal/me', { token: session.token });
    expect(me.customer.id).toBe(customer.id);
  });
});
