// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, describe, expect, it } from 'vitest';
import { cancelUnclaimedPurchase } from '../../src/db/purchase-status';
import { call, config, newCustomer, newPack, newWorld, ok, useHarness } from '../catalog/helpers';
import { useCredits } from '../usage/helpers';

/**
 * Auto top-up settings through the API (admin and portal), validated like a checkout. This app has no
 * Temporal client: a top-up a PUT or a usage records is left pending for the sweep (tested with a
 * worker in top-up.test.ts); here it is only counted.
 */
const h = useHarness();

const OFF = {
  enabled: false,
  thresholdCredits: null,
  creditPackId: null,
  quantity: null,
  monthlyLimit: null,
  state: 'off',
  pausedReason: null,
};

const customers: string[] = [];
// The top-ups these tests record are never started (no Temporal here): cancel them, as an operator would.
afterAll(async () => {
  const pending = await h.sql<{ id: string }[]>`
    select id from purchases where customer_id in ${h.sql(customers)} and status = 'pending'`;
  for (const { id } of pending) await cancelUnclaimedPurchase(h.sql, id, 'test cleanup');
});

/** The customer's auto top-up purchases, oldest first. */
function topUps(customerId: string) {
  customers.push(customerId);
  return h.sql<{ status: string; credit_pack_id: string; quantity: number; idempotency_key: string }[]>`
    select status, credit_pack_id, quantity, idempotency_key from purchases
     where customer_id = ${customerId} and trigger = 'auto_top_up' order by created_at`;
}

describe('auto top-up settings', () => {
  it('GET before any PUT: enabled false, state off, the rest null (admin and portal)', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    expect(await ok(h.app, 'GET', `/v1/customers/${c.customer.id}/auto-top-up`, { token: w.apiKey })).toEqual(
      OFF,
    );
    expect(await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: c.token })).toEqual(OFF);
  });

  it('PUT saves (quantity defaults to 1), answers the state, and the portal and admin see the same', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
    const body = { enabled: true, thresholdCredits: 100, creditPackId: pack.id, monthlyLimit: 20000 };
    const saved = await ok(h.app, 'PUT', `/v1/customers/${c.customer.id}/auto-top-up`, {
      token: w.apiKey,
      body,
    });
    expect(saved).toEqual({ ...body, quantity: 1, state: 'active', pausedReason: null });
    expect(await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: c.token })).toEqual(saved);

    const off = await ok(h.app, 'PUT', '/v1/portal/auto-top-up', {
      token: c.token,
      body: { ...body, enabled: false, quantity: 2 },
    });
    expect(off).toEqual({ ...body, enabled: false, quantity: 2, state: 'off', pausedReason: null });
    expect(await ok(h.app, 'GET', `/v1/customers/${c.customer.id}/auto-top-up`, { token: w.apiKey })).toEqual(
      off,
    );
    // 1000 plan credits, threshold 100: nothing was started
    expect(await topUps(c.customer.id)).toEqual([]);
  });

  it('refuses what a checkout would refuse, and malformed settings; nothing is saved', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const pack = await newPack(h.app, w);
    const hidden = await newPack(h.app, w, {
      visibility: { type: 'plans', planIds: [w.plans.enterprise.id] },
    });
    const archived = await newPack(h.app, w);
    await ok(h.app, 'POST', `/v1/credit-packs/${archived.id}/archive`, { token: w.apiKey, status: 200 });
    const other = await newWorld(h.app);
    const otherPack = await newPack(h.app, other);
    const url = `/v1/customers/${c.customer.id}/auto-top-up`;
    const good = { enabled: true, thresholdCredits: 10, creditPackId: pack.id, monthlyLimit: 5000 };
    const put = (body: unknown, path = url) => call(h.app, 'PUT', path, { token: w.apiKey, body });

    const refusals: [unknown, number, string][] = [
      [{ ...good, creditPackId: hidden.id }, 422, 'pack_not_visible'],
      [{ ...good, creditPackId: archived.id }, 409, 'credit_pack_archived'],
      [{ ...good, creditPackId: otherPack.id }, 404, 'credit_pack_not_found'],
      [{ ...good, quantity: config.MAX_PURCHASE_QUANTITY + 1 }, 422, 'quantity_exceeds_limit'],
      [{ ...good, thresholdCredits: -1 }, 400, 'validation_failed'],
      [{ ...good, monthlyLimit: -1 }, 400, 'validation_failed'],
      [{ ...good, quantity: 0 }, 400, 'validation_failed'],
      [{ ...good, thresholdCredits: 1.5 }, 400, 'validation_failed'],
      [{ enabled: true, thresholdCredits: 10, creditPackId: pack.id }, 400, 'validation_failed'],
      [{ ...good, extra: 1 }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of refusals) {
      const answer = await put(body);
      expect([answer.status, answer.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await put(good, `/v1/customers/cus_${'x'.repeat(12)}/auto-top-up`)).status).toBe(404);
    // another organization's customer is not found
    const answer = await call(h.app, 'PUT', url, {
      token: other.apiKey,
      body: { ...good, creditPackId: otherPack.id },
    });
    expect([answer.status, answer.body.error.code]).toEqual([404, 'customer_not_found']);
    expect(await ok(h.app, 'GET', url, { token: w.apiKey })).toEqual(OFF);

    // a subscription that cannot buy: its code
    const pastDue = await newCustomer(h.app, w, w.plans.pro.id, 'past_due');
    const refused = await call(h.app, 'PUT', '/v1/portal/auto-top-up', { token: pastDue.token, body: good });
    expect([refused.status, refused.body.error.code]).toEqual([422, 'subscription_past_due']);
  });

  it('a usage that takes the total below the threshold records exactly one top-up, even 20 in parallel', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id); // 1000 plan credits
    const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
    await ok(h.app, 'PUT', `/v1/customers/${c.customer.id}/auto-top-up`, {
      token: w.apiKey,
      body: {
        enabled: true,
        thresholdCredits: 900,
        creditPackId: pack.id,
        quantity: 2,
        monthlyLimit: 100000,
      },
    });
    expect(await topUps(c.customer.id)).toEqual([]); // 1000 ≥ 900

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => useCredits(h.app, w, c.customer.id, { credits: 10 })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(
      await ok(h.app, 'GET', `/v1/customers/${c.customer.id}/balance`, { token: w.apiKey }),
    ).toMatchObject({
      total: 800,
    });
    // the 11th usage crossed 900; the others found it in flight
    expect(await topUps(c.customer.id)).toEqual([
      { status: 'pending', credit_pack_id: pack.id, quantity: 2, idempotency_key: 'auto_top_up:1' },
    ]);
    // a replayed usage (same key) starts nothing either
    await useCredits(h.app, w, c.customer.id, { credits: 10 }, 'same-key');
    await useCredits(h.app, w, c.customer.id, { credits: 10 }, 'same-key');
    expect(await topUps(c.customer.id)).toHaveLength(1);
  });

  it('a pause (pack archived at the threshold) records one auto_top_up.paused event, listed and fanned out to endpoints', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const pack = await newPack(h.app, w);
    const endpoint = await ok(h.app, 'POST', '/v1/webhook-endpoints', {
      token: w.apiKey,
      body: { url: 'http://127.0.0.1:9/hook', events: ['auto_top_up.paused'] },
    });
    const body = { enabled: true, thresholdCredits: 500, creditPackId: pack.id, monthlyLimit: 100000 };
    await ok(h.app, 'PUT', '/v1/portal/auto-top-up', { token: c.token, body });
    await ok(h.app, 'POST', `/v1/credit-packs/${pack.id}/archive`, { token: w.apiKey, status: 200 });
    await useCredits(h.app, w, c.customer.id, { credits: 600 }); // 400 < 500: paused, nothing recorded
    await useCredits(h.app, w, c.customer.id, { credits: 10 }); // still paused: no second event
    expect(await topUps(c.customer.id)).toEqual([]);
    const paused = { ...body, quantity: 1, state: 'paused', pausedReason: 'pack_unavailable' };
    expect(await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: c.token })).toEqual(paused);

    const events = await ok(h.app, 'GET', '/v1/events?type=auto_top_up.paused', { token: w.apiKey });
    expect(events).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        type: 'auto_top_up.paused',
        createdAt: expect.any(String),
        data: { customerId: c.customer.id, autoTopUp: paused },
      },
    ]);
    const deliveries = await h.sql`
      select status from event_deliveries where event_id = ${events[0].id} and endpoint_id = ${endpoint.id}`;
    expect(deliveries).toEqual([{ status: 'pending' }]);
    await ok(h.app, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, { token: w.apiKey });

    // A PUT lifts the pause, but the pack is still archived: refused, and it stays paused.
    const refused = await call(h.app, 'PUT', '/v1/portal/auto-top-up', { token: c.token, body });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'credit_pack_archived']);
    expect((await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: c.token })).state).toBe('paused');
  });

  it('a PUT whose threshold is above the total records the top-up at once; disabled records nothing', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const pack = await newPack(h.app, w);
    const body = { enabled: false, thresholdCredits: 5000, creditPackId: pack.id, monthlyLimit: 100000 };
    await ok(h.app, 'PUT', '/v1/portal/auto-top-up', { token: c.token, body });
    expect(await topUps(c.customer.id)).toEqual([]);
    await ok(h.app, 'PUT', '/v1/portal/auto-top-up', { token: c.token, body: { ...body, enabled: true } });
    await ok(h.app, 'PUT', '/v1/portal/auto-top-up', { token: c.token, body: { ...body, enabled: true } });
    expect(await topUps(c.customer.id)).toHaveLength(1); // the second PUT found it in flight
  });
});
