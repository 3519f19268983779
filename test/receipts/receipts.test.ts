// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, insertPurchase, newCustomer, newPack, newWorld, ok, uniqueName } from '../catalog/helpers';
import { type PortalHarness, portalHarness } from '../checkout/harness';

/**
 * Receipts (docs/api.md, "Receipts"): numbered per organization when a purchase completes, gapless even
 * when completions race (a counter row, locked by the completing transaction); the pack's name as it
 * was at checkout; JSON, or printable HTML by Accept; admin and portal routes.
 */

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness();
});
afterAll(() => h?.close());

const receiptOf = (purchaseId: string, options: { token?: string; accept?: string } = {}) =>
  h.app.inject({
    method: 'GET',
    url: `/v1/purchases/${purchaseId}/receipt`,
    headers: {
      authorization: `Bearer ${options.token ?? h.world.apiKey}`,
      ...(options.accept ? { accept: options.accept } : {}),
    },
  });

describe('GET /v1/purchases/{id}/receipt and /v1/portal/purchases/{id}/receipt', () => {
  it('shows a completed purchase: number, the pack name at checkout, amounts, card, refunds', async () => {
    const world = await newWorld(h.app);
    const pack = await newPack(h.app, world, { name: uniqueName('Starter'), credits: 100, price: 1500 });
    const who = await h.customer({ card: 'pm_card_visa', world });
    const bought = await h.checkout(who, { creditPackId: pack.id, quantity: 3 });
    await h.purchaseReaches(who, bought.body.data.id, 'completed');
    const purchaseId = bought.body.data.id as string;
    // The pack renamed after the checkout: the receipt keeps the name the customer bought.
    await ok(h.app, 'PATCH', `/v1/credit-packs/${pack.id}`, {
      token: world.apiKey,
      body: { name: 'Renamed later' },
      status: 200,
    });

    const admin = await ok(h.app, 'GET', `/v1/purchases/${purchaseId}/receipt`, { token: world.apiKey });
    expect(admin).toEqual({
      number: 1,
      purchaseId,
      issuedAt: expect.any(String),
      lines: [{ description: pack.name, quantity: 3, unitAmount: 1500, amount: 4500 }],
      total: 4500,
      currency: 'usd',
      paymentMethod: { brand: 'visa', last4: '4242' },
      refunds: [],
    });
    const portal = await ok(h.app, 'GET', `/v1/portal/purchases/${purchaseId}/receipt`, { token: who.token });
    expect(portal).toEqual(admin);

    // A partial refund: listed on the receipt, which keeps its number.
    await ok(h.app, 'POST', `/v1/purchases/${purchaseId}/refunds`, {
      token: world.apiKey,
      body: { amount: 500 },
      headers: { 'idempotency-key': `receipt-${purchaseId}` },
      status: 202,
    });
    const refunded = await ok(h.app, 'GET', `/v1/purchases/${purchaseId}/receipt`, { token: world.apiKey });
    expect(refunded.number).toBe(1);
    expect(refunded.refunds).toEqual([
      {
        id: expect.stringMatching(/^ref_/),
        amount: 500,
        status: expect.any(String),
        createdAt: expect.any(String),
      },
    ]);

    // Printable HTML when text/html comes first in Accept.
    const html = await receiptOf(purchaseId, {
      token: world.apiKey,
      accept: 'text/html,application/json;q=0.9',
    });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body).toContain('Receipt #<span data-testid="receipt-number">1</span>');
    expect(html.body).toContain(pack.name);
    expect(html.body).not.toContain('Renamed later');
    expect(html.body).toContain('$45.00');
    expect(html.body).toContain('VISA ending in 4242');
    expect(html.body).toContain('−$5.00');
    const json = await receiptOf(purchaseId, { token: world.apiKey, accept: 'application/json, text/html' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
  });

  it('answers 404 receipt_not_found for a purchase that never completed, and purchase_not_found for others', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const failed = (await h.checkout(who)).body.data.id as string;
    await h.purchaseReaches(who, failed, 'failed');
    for (const [url, token] of [
      [`/v1/purchases/${failed}/receipt`, h.world.apiKey],
      [`/v1/portal/purchases/${failed}/receipt`, who.token],
    ] as const) {
      const res = await call(h.app, 'GET', url, { token, headers: { accept: 'text/html' } });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, error: { code: 'receipt_not_found' } });
    }
    const buyer = await h.customer({ card: 'pm_card_visa' });
    const done = (await h.checkout(buyer)).body.data.id as string;
    await h.purchaseReaches(buyer, done, 'completed');
    const someoneElse = await call(h.app, 'GET', `/v1/portal/purchases/${done}/receipt`, {
      token: who.token,
    });
    expect(someoneElse.status).toBe(404);
    expect(someoneElse.body.error.code).toBe('purchase_not_found');
    const otherOrg = await newWorld(h.app);
    const foreign = await call(h.app, 'GET', `/v1/purchases/${done}/receipt`, { token: otherOrg.apiKey });
    expect(foreign.body.error.code).toBe('purchase_not_found');
    const bad = await call(h.app, 'GET', '/v1/purchases/pur_x/receipt', { token: h.world.apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const extra = await call(h.app, 'GET', `/v1/purchases/${done}/receipt?format=pdf`, {
      token: h.world.apiKey,
    });
    expect(extra.body.error.code).toBe('validation_failed');
  });
});

describe('receipt numbers', () => {
  it('are 1…n, gapless, under concurrent completions through checkout', async () => {
    const world = await newWorld(h.app);
    const pack = await newPack(h.app, world, { credits: 10, price: 700 });
    const buyers = await Promise.all(
      Array.from({ length: 8 }, () => h.customer({ card: 'pm_card_visa', world })),
    );
    const ids = await Promise.all(
      buyers.map(async (who) => {
        const id = (await h.checkout(who, { creditPackId: pack.id })).body.data.id as string;
        await h.purchaseReaches(who, id, 'completed');
        return id;
      }),
    );
    const numbers = await Promise.all(
      ids.map(
        async (id) => (await ok(h.app, 'GET', `/v1/purchases/${id}/receipt`, { token: world.apiKey })).number,
      ),
    );
    expect([...numbers].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('skip nothing when a completing transaction rolls back, with 20 completions racing in the database', async () => {
    const world = await newWorld(h.app);
    const pack = await newPack(h.app, world, { credits: 10, price: 700 });
    const { customer } = await newCustomer(h.app, world, world.plans.pro.id);
    const p = { orgId: world.orgId, customerId: customer.id, pack };
    const ids = await Promise.all(Array.from({ length: 21 }, () => insertPurchase(h.env.sql, p)));
    const [doomed, ...rest] = ids;
    const complete = (id: string, rollback: boolean) =>
      h.env.sql
        .begin(async (tx) => {
          await tx`select pg_sleep(${Math.random() / 20})`;
          await tx`update purchases set status = 'completed' where id = ${id}`;
          await tx`select pg_sleep(${Math.random() / 20})`;
          if (rollback) throw new Error('rolled back on purpose');
        })
        .catch((error: Error) => {
          if (!rollback) throw error;
        });
    await Promise.all([complete(doomed!, true), ...rest.map((id) => complete(id, false))]);
    const rows = await h.env.sql<{ purchase_id: string; number: number }[]>`
      select purchase_id, number from receipts where organization_id = ${world.orgId} order by number`;
    expect(rows.map((r) => r.number)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.purchase_id))).toEqual(new Set(rest));
    // A purchase completed again (refunded, then back to completed) keeps its one receipt.
    const [again] = rest;
    await h.env.sql`update purchases set status = 'completed' where id = ${again!}`;
    const [count] = await h.env.sql<
      { n: number }[]
    >`select count(*)::int as n from receipts where purchase_id = ${again!}`;
    expect(count!.n).toBe(1);
  });
});
