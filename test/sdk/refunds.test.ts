import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CreditPacks, CreditPacksError, type Refund } from '../../packages/sdk/src/index';
import type { PortalHarness } from '../checkout/harness';
import { waitFor } from '../support/wait';
import { adminClient, FaultProxy, sdkHarness } from './helpers';

/**
 * `client.purchases.refunds` against the real stack: purchases completed by the test worker and the
 * Stripe emulator, refunds carried to the emulator by their own workflow. The pack: 500 credits for
 * 4000 cents.
 */

let h: PortalHarness;
let client: CreditPacks;
let proxy: FaultProxy;
beforeAll(async () => {
  h = await sdkHarness();
  client = adminClient(h);
  proxy = await new FaultProxy(h.url).start();
});
afterAll(async () => {
  await proxy?.close();
  await h?.close();
});
beforeEach(() => proxy.arm());

/** A customer with a card on file whose checkout (through the SDK's portal client) has completed. */
async function completedPurchase() {
  const who = await h.customer({ card: 'pm_card_visa' });
  const portal = CreditPacks.portal({ token: who.token, baseUrl: h.url, maxRetries: 0 });
  const bought = await portal.purchases.create({ creditPackId: h.pack.id });
  if (!bought.success) throw new Error(JSON.stringify(bought));
  await h.purchaseReaches(who, bought.data.id, 'completed');
  return { who, purchaseId: bought.data.id };
}

/** Waits until every refund of the purchase has left `pending` (carried to Stripe by its workflow). */
const refundsSettle = (purchaseId: string) =>
  waitFor(
    async () => {
      const res = await client.purchases.refunds.list(purchaseId);
      return res.success && res.data.length > 0 && res.data.every((r) => r.status !== 'pending')
        ? res.data
        : null;
    },
    `the refunds of ${purchaseId} to settle`,
    30_000,
  );

const refundsIn = (purchaseId: string) =>
  h.env.sql<{ id: string }[]>`select id from refunds where purchase_id = ${purchaseId}`;

describe('client.purchases.refunds', () => {
  it('create without an amount refunds in full (202, pending); list shows it; the purchase ends refunded', async () => {
    const { who, purchaseId } = await completedPurchase();
    const created = await client.purchases.refunds.create(purchaseId, { reason: 'requested_by_customer' });
    if (!created.success) throw new Error(JSON.stringify(created));
    expect(created.data).toEqual({
      id: expect.stringMatching(/^ref_/),
      purchaseId,
      amount: 4000,
      creditsReversed: 500,
      reason: 'requested_by_customer',
      status: 'pending',
      createdAt: expect.any(String),
    });
    expect(await client.customers.retrieveBalance(who.id)).toMatchObject({
      success: true,
      data: { purchasedCredits: 0 },
    });

    const listed = await client.purchases.refunds.list(purchaseId);
    expect(listed.success && listed.data.map((r) => r.id)).toEqual([created.data.id]);
    const [settled] = await refundsSettle(purchaseId);
    expect(settled).toEqual({ ...created.data, status: 'succeeded' });

    const purchase = await waitFor(async () => {
      const res = await client.purchases.retrieve(purchaseId);
      return res.success && res.data.status === 'refunded' ? res.data : null;
    }, 'the purchase to be refunded');
    expect(purchase).toMatchObject({
      refundedAmount: 4000,
      creditsReversed: 500,
      trigger: 'portal',
      dispute: null,
    });
  });

  it('partial refunds: each reverses its share of the credits; the purchase stays completed; listed oldest first', async () => {
    const { purchaseId } = await completedPurchase();
    const first = await client.purchases.refunds.create(purchaseId, { amount: 1000 });
    expect(first.success && first.data).toMatchObject({ amount: 1000, creditsReversed: 125, reason: null });
    const second = await client.purchases.refunds.create(purchaseId, { amount: 1001, reason: 'duplicate' });
    // floor(500 × 2001 / 4000) = 250: this one takes 125 more
    expect(second.success && second.data).toMatchObject({ amount: 1001, creditsReversed: 125 });
    const tooMuch = await client.purchases.refunds.create(purchaseId, { amount: 2000 });
    expect(tooMuch).toEqual({
      success: false,
      error: { code: 'not_refundable', message: expect.any(String) },
    });

    const settled = await refundsSettle(purchaseId);
    expect(settled.map((r) => [r.amount, r.status])).toEqual([
      [1000, 'succeeded'],
      [1001, 'succeeded'],
    ]);
    expect(await client.purchases.retrieve(purchaseId)).toMatchObject({
      success: true,
      data: { status: 'completed', refundedAmount: 2001, creditsReversed: 250 },
    });
  });

  it('the same idempotencyKey and body answer the same refund again: one refund', async () => {
    const { purchaseId } = await completedPurchase();
    const idempotencyKey = randomUUID();
    const first = await client.purchases.refunds.create(purchaseId, { amount: 500 }, { idempotencyKey });
    const replay = await client.purchases.refunds.create(purchaseId, { amount: 500 }, { idempotencyKey });
    if (!first.success) throw new Error(JSON.stringify(first));
    expect(replay).toEqual(first);
    expect(await refundsIn(purchaseId)).toEqual([{ id: first.data.id }]);
    await refundsSettle(purchaseId);
  });

  it('a key reused with another body: the idempotency_key_reused envelope, or a CreditPacksError when thrown', async () => {
    const { purchaseId } = await completedPurchase();
    const idempotencyKey = randomUUID();
    const first = await client.purchases.refunds.create(purchaseId, { amount: 500 }, { idempotencyKey });
    expect(first.success).toBe(true);
    const reused = await client.purchases.refunds.create(purchaseId, { amount: 700 }, { idempotencyKey });
    expect(reused).toEqual({
      success: false,
      error: { code: 'idempotency_key_reused', message: expect.any(String) },
    });

    const strict = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: h.url, throwOnError: true });
    const error = await strict.purchases.refunds
      .create(purchaseId, { amount: 500, reason: 'fraudulent' }, { idempotencyKey })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CreditPacksError);
    expect(error).toMatchObject({ code: 'idempotency_key_reused', status: 409 });
    expect((error as CreditPacksError).requestId).toMatch(/^req_/);
    expect(await refundsIn(purchaseId)).toHaveLength(1);
    await refundsSettle(purchaseId);
  });

  it('a purchase that is not completed: not_refundable (409 when thrown); nothing recorded', async () => {
    const who = await h.customer({ plan: 'free' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: h.url, maxRetries: 0 });
    const bought = await portal.purchases.create({ creditPackId: h.pack.id });
    if (!bought.success) throw new Error(JSON.stringify(bought));
    await h.purchaseReaches(who, bought.data.id, 'awaiting_payment_method');

    const refused = await client.purchases.refunds.create(bought.data.id);
    expect(refused).toEqual({
      success: false,
      error: { code: 'not_refundable', message: expect.any(String) },
    });
    const strict = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: h.url, throwOnError: true });
    await expect(strict.purchases.refunds.create(bought.data.id, { amount: 100 })).rejects.toMatchObject({
      code: 'not_refundable',
      status: 409,
    });
    expect(await client.purchases.refunds.list(bought.data.id)).toEqual({ success: true, data: [] });
    expect(await refundsIn(bought.data.id)).toEqual([]);
    const canceled = await client.purchases.cancel(bought.data.id);
    expect(canceled.success && canceled.data.status).toBe('canceled');
  });

  it('an unknown purchase: purchase_not_found for both methods', async () => {
    const missing = { success: false, error: { code: 'purchase_not_found', message: expect.any(String) } };
    expect(await client.purchases.refunds.create('pur_doesNotExist123')).toEqual(missing);
    expect(await client.purchases.refunds.list('pur_doesNotExist123')).toEqual(missing);
  });
});

describe('the SDK retries a refund with the same Idempotency-Key', () => {
  const path = (purchaseId: string) => `/v1/purchases/${purchaseId}/refunds`;

  it('the answer is dropped after the app made the refund: the retry answers that refund, one made', async () => {
    const { purchaseId } = await completedPurchase();
    const viaProxy = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url });
    proxy.arm({ method: 'POST', path: path(purchaseId), fault: { kind: 'drop-answer' } });

    const res = await viaProxy.purchases.refunds.create(purchaseId, { amount: 1000 });
    if (!res.success) throw new Error(JSON.stringify(res));
    const keys = proxy.requestsTo('POST', path(purchaseId)).map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    // The answer the client never got named the refund the retry returned.
    expect((JSON.parse(proxy.answersDropped[0]!) as { data: Refund }).data).toEqual(res.data);
    expect(await refundsIn(purchaseId)).toEqual([{ id: res.data.id }]);
    await refundsSettle(purchaseId);
  });

  it("503 with Retry-After: the caller's key is sent again; each call without a key gets its own", async () => {
    const { purchaseId } = await completedPurchase();
    const viaProxy = new CreditPacks({ apiKey: h.world.apiKey, baseUrl: proxy.url });
    proxy.arm({
      method: 'POST',
      path: path(purchaseId),
      fault: { kind: 'status', status: 503, retryAfter: '0' },
    });
    const keyed = await viaProxy.purchases.refunds.create(
      purchaseId,
      { amount: 100 },
      { idempotencyKey: 'refund-order-42' },
    );
    expect(keyed.success).toBe(true);
    expect(proxy.requestsTo('POST', path(purchaseId)).map((r) => r.headers['idempotency-key'])).toEqual([
      'refund-order-42',
      'refund-order-42',
    ]);

    proxy.arm();
    const a = await viaProxy.purchases.refunds.create(purchaseId, { amount: 100 });
    const b = await viaProxy.purchases.refunds.create(purchaseId, { amount: 100 });
    expect(a.success && b.success && a.data.id !== b.data.id).toBe(true);
    const keys = proxy.requestsTo('POST', path(purchaseId)).map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(2);
    expect(await refundsIn(purchaseId)).toHaveLength(3);
    await refundsSettle(purchaseId);
  });
});
