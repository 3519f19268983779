import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CreditPacks, CreditPacksError } from '../../packages/sdk/src/index';
import type { PortalHarness } from '../checkout/harness';
import { FaultProxy, sdkHarness } from './helpers';

/**
 * The SDK's retries against faults injected by a real loopback proxy between it and the real app:
 * an answer dropped after the app processed the request (the emulator-style fault), 429 and 503 with
 * Retry-After, an answer that never comes.
 */

let h: PortalHarness;
let proxy: FaultProxy;
beforeAll(async () => {
  h = await sdkHarness();
  proxy = await new FaultProxy(h.url).start();
});
afterAll(async () => {
  await proxy?.close();
  await h?.close();
});
beforeEach(() => proxy.arm());

const purchasesOf = (customerId: string) =>
  h.env.sql<{ id: string; idempotency_key: string }[]>`
    select id, idempotency_key from purchases where customer_id = ${customerId}`;

describe('checkout retried with the same Idempotency-Key', () => {
  it('the first answer is dropped after the app made the purchase: the retry returns that purchase, one made', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: proxy.url });
    proxy.arm({ method: 'POST', path: '/v1/portal/purchases', fault: { kind: 'drop-answer' } });

    const res = await portal.purchases.create({ creditPackId: h.pack.id, quantity: 1 });
    if (!res.success) throw new Error(JSON.stringify(res));

    const attempts = proxy.requestsTo('POST', '/v1/portal/purchases');
    expect(attempts).toHaveLength(2);
    const key = attempts[0]!.headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(attempts[1]!.headers['idempotency-key']).toBe(key);
    // The answer the client never got named the same purchase the retry returned.
    expect(proxy.answersDropped).toHaveLength(1);
    expect(JSON.parse(proxy.answersDropped[0]!).data.id).toBe(res.data.id);

    const made = await purchasesOf(who.id);
    expect(made).toEqual([{ id: res.data.id, idempotency_key: key }]);
    await h.purchaseReaches(who, res.data.id, 'completed');
  });

  it("the caller's own idempotencyKey is the one sent and reused", async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: proxy.url });
    proxy.arm({ method: 'POST', path: '/v1/portal/purchases', fault: { kind: 'drop-answer' } });
    const res = await portal.purchases.create({ creditPackId: h.pack.id }, { idempotencyKey: 'order-42' });
    expect(res.success).toBe(true);
    expect(proxy.requestsTo('POST', '/v1/portal/purchases').map((r) => r.headers['idempotency-key'])).toEqual(
      ['order-42', 'order-42'],
    );
    expect(await purchasesOf(who.id)).toHaveLength(1);
    if (res.success) await h.purchaseReaches(who, res.data.id, 'completed');
  });

  it('503 with Retry-After: waits as told, retries with the same key, one purchase', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: proxy.url });
    proxy.arm({
      method: 'POST',
      path: '/v1/portal/purchases',
      fault: { kind: 'status', status: 503, retryAfter: '1' },
    });
    const started = Date.now();
    const res = await portal.purchases.create({ creditPackId: h.pack.id });
    const elapsed = Date.now() - started;
    if (!res.success) throw new Error(JSON.stringify(res));
    expect(elapsed).toBeGreaterThanOrEqual(950);
    const keys = proxy.requestsTo('POST', '/v1/portal/purchases').map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(await purchasesOf(who.id)).toHaveLength(1);
    await h.purchaseReaches(who, res.data.id, 'completed');
  });

  it('each call without a key gets a key of its own', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: proxy.url });
    const a = await portal.purchases.create({ creditPackId: h.pack.id });
    const b = await portal.purchases.create({ creditPackId: h.pack.id });
    const keys = proxy.requestsTo('POST', '/v1/portal/purchases').map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(2);
    expect(await purchasesOf(who.id)).toHaveLength(2);
    for (const res of [a, b]) if (res.success) await h.purchaseReaches(who, res.data.id, 'completed');
  });
});

describe('reads and the retry bounds', () => {
  it('429 with Retry-After on a read: waited for, then answered', async () => {
    const who = await h.customer();
    const portal = CreditPacks.portal({ token: who.token, baseUrl: proxy.url });
    proxy.arm({
      method: 'GET',
      path: '/v1/portal/balance',
      fault: { kind: 'status', status: 429, retryAfter: '1' },
    });
    const started = Date.now();
    const res = await portal.balance.retrieve();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(res.success).toBe(true);
    expect(proxy.requestsTo('GET', '/v1/portal/balance')).toHaveLength(2);
  });

  it('a dropped answer to a read is retried', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url });
    proxy.arm({ method: 'GET', path: '/v1/credit-packs', fault: { kind: 'drop-answer' } });
    const res = await client.creditPacks.list();
    expect(res.success).toBe(true);
    expect(proxy.requestsTo('GET', '/v1/credit-packs')).toHaveLength(2);
  });

  it('bounded by maxRetries: the last answer is returned (or thrown with its status and request id)', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url, maxRetries: 3 });
    proxy.arm({
      method: 'GET',
      path: '/v1/plans',
      fault: { kind: 'status', status: 503, retryAfter: '0' },
      times: 10,
    });
    const res = await client.plans.list();
    expect(res).toEqual({ success: false, error: { code: 'service_unavailable', message: 'Injected.' } });
    expect(proxy.requestsTo('GET', '/v1/plans')).toHaveLength(4);

    const strict = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url, throwOnError: true });
    proxy.arm({
      method: 'GET',
      path: '/v1/plans',
      fault: { kind: 'status', status: 503, retryAfter: '0', headers: { 'request-id': 'req_injected' } },
      times: 10,
    });
    const error = await strict.plans.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CreditPacksError);
    expect(error).toMatchObject({ code: 'service_unavailable', status: 503, requestId: 'req_injected' });
    expect(proxy.requestsTo('GET', '/v1/plans')).toHaveLength(3); // the default: 2 retries
  });

  it('without Retry-After the backoff applies (short, capped); maxRetries: 0 never retries', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url, maxRetries: 1 });
    proxy.arm({ method: 'GET', path: '/v1/plans', fault: { kind: 'status', status: 500 } });
    const started = Date.now();
    expect((await client.plans.list()).success).toBe(true);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(3_000);

    proxy.arm({ method: 'GET', path: '/v1/plans', fault: { kind: 'status', status: 500 } });
    const once = await client.plans.list({ maxRetries: 0 });
    expect(once.success === false && once.error.code).toBe('service_unavailable');
    expect(proxy.requestsTo('GET', '/v1/plans')).toHaveLength(1);
  });

  it('no answer within timeoutMs: timeout, retried, then answered', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url, timeoutMs: 300 });
    proxy.arm({ method: 'GET', path: '/v1/plans', fault: { kind: 'hang' } });
    expect((await client.plans.list()).success).toBe(true);
    expect(proxy.requestsTo('GET', '/v1/plans')).toHaveLength(2);

    proxy.arm({ method: 'GET', path: '/v1/plans', fault: { kind: 'hang' } });
    const strict = new CreditPacks({
      apiKey: h.world.apiKey,
      baseUrl: proxy.url,
      timeoutMs: 300,
      throwOnError: true,
    });
    await expect(strict.plans.list({ maxRetries: 0 })).rejects.toMatchObject({
      code: 'timeout',
      status: null,
    });
  });
});

describe('a POST without an idempotency key is never retried once it may have run', () => {
  it('503 or a dropped answer on customers.create: one attempt, the failure answered', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url });
    proxy.arm({
      method: 'POST',
      path: '/v1/customers',
      fault: { kind: 'status', status: 503, retryAfter: '0' },
    });
    const refused = await client.customers.create({ email: 'once@example.test', name: 'Once' });
    expect(refused.success === false && refused.error.code).toBe('service_unavailable');
    expect(proxy.requestsTo('POST', '/v1/customers')).toHaveLength(1);

    proxy.arm({ method: 'POST', path: '/v1/customers', fault: { kind: 'drop-answer' } });
    const dropped = await client.customers.create({ email: 'dropped@example.test', name: 'Dropped' });
    expect(dropped.success === false && dropped.error.code).toBe('connection_error');
    expect(proxy.requestsTo('POST', '/v1/customers')).toHaveLength(1);
  });

  it('429 (not processed) is retried even so', async () => {
    const client = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url });
    proxy.arm({
      method: 'POST',
      path: '/v1/customers',
      fault: { kind: 'status', status: 429, retryAfter: '0' },
    });
    const res = await client.customers.create({ email: 'later@example.test', name: 'Later' });
    expect(res.success).toBe(true);
    expect(proxy.requestsTo('POST', '/v1/customers')).toHaveLength(2);
  });
});
