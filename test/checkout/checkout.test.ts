// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/portal/app';
import { createPurchase, purchaseWorkflowExists, startOrphanedPurchases } from '../../src/purchases';
import { call, newPack, newWorld, ok } from '../catalog/helpers';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PortalHarness, portalHarness } from './harness';

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness({ cardWaitTimeoutMs: 60_000, authenticationWaitTimeoutMs: 60_000 });
});
afterAll(() => h?.close());

const purchasesOf = async (customerId: string) =>
  h.env.sql<{ id: string }[]>`select id from purchases where customer_id = ${customerId}`;

/** The worker's orphan sweep, at once (no grace period), over this file's organization. */
const sweep = () =>
  startOrphanedPurchases(
    { sql: h.env.sql, client: h.env.temporal.client, config: h.env.config },
    { olderThanMs: 0, organizationId: h.world.orgId },
  );

/** Whether the purchase's workflow exists at all. */
const workflowExists = (purchaseId: string) => purchaseWorkflowExists(h.env.temporal.client, purchaseId);

/** A purchase recorded at checkout whose workflow never started (the checkout died in between). */
async function recordedOnly(who: { id: string }) {
  const { purchase } = await createPurchase(
    h.env.sql,
    {
      organizationId: h.world.orgId,
      customerId: who.id,
      creditPackId: h.pack.id,
      quantity: 1,
      idempotencyKey: randomUUID(),
    },
    { maxQuantity: h.env.config.MAX_PURCHASE_QUANTITY },
  );
  return purchase;
}

describe('POST /v1/portal/purchases (checkout)', () => {
  it('answers 202 with the purchase in the docs/api.md shape; a card on file completes it and grows the balance', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const before = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    const res = await h.checkout(who, { creditPackId: h.pack.id, quantity: 2 });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/v1/portal/purchases/${res.body.data.id}`);
    const purchase = res.body.data;
    expect(Object.keys(purchase).sort()).toEqual(
      [
        'id',
        'status',
        'creditPackId',
        'quantity',
        'credits',
        'price',
        'currency',
        'nextAction',
        'failure',
        // the contract additions (docs/api.md#purchase-fields--served)
        'trigger',
        'refundedAmount',
        'creditsReversed',
        'dispute',
        'createdAt',
        'updatedAt',
      ].sort(),
    );
    expect(purchase).toMatchObject({
      trigger: 'portal',
      refundedAmount: 0,
      creditsReversed: 0,
      dispute: null,
    });
    expect(purchase).toMatchObject({
      creditPackId: h.pack.id,
      quantity: 2,
      credits: 1000,
      price: 8000,
      currency: 'usd',
      nextAction: null,
      failure: null,
    });
    expect(purchase.id).toMatch(/^pur_/);

    await h.purchaseReaches(who, purchase.id, 'completed');
    const after = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    expect(after.purchasedCredits - before.purchasedCredits).toBe(1000);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.paymentIntents.map((pi) => pi.amount)).toEqual([8000]);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    const list = await ok(h.app, 'GET', '/v1/portal/purchases', { token: who.token });
    expect(list.map((p: any) => p.id)).toEqual([purchase.id]);
  });

  it('a double-submitted checkout (same key, same body, at once) is one purchase, one workflow, one charge', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const key = randomUUID();
    const answers = await Promise.all([1, 2, 3].map(() => h.checkout(who, { creditPackId: h.pack.id }, key)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const ids = new Set(answers.map((a) => a.body.data.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    await h.purchaseReaches(who, id, 'completed');

    // Submitted again after it settled: still the same purchase, not run again.
    const again = await h.checkout(who, { creditPackId: h.pack.id }, key);
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ id, status: 'completed' });

    expect(await purchasesOf(who.id)).toHaveLength(1);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, id);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    const balance = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    expect(balance.purchasedCredits).toBe(500);
    const runs = await h.env.temporal.client.workflow.count(`WorkflowId = 'credit-pack-purchase:${id}'`);
    expect(runs.count).toBeLessThanOrEqual(1);
  });

  it('the same key with another body answers 409 idempotency_key_reused and changes nothing', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const key = randomUUID();
    const first = await h.checkout(who, { creditPackId: h.pack.id, quantity: 1 }, key);
    expect(first.status).toBe(202);
    const other = await h.checkout(who, { creditPackId: h.pack.id, quantity: 2 }, key);
    expect(other.status).toBe(409);
    expect(other.body).toEqual({
      success: false,
      error: { code: 'idempotency_key_reused', message: expect.any(String) },
    });
    expect(await purchasesOf(who.id)).toHaveLength(1);
    await h.purchaseReaches(who, first.body.data.id, 'completed');
    // The same key belongs to one customer only: another customer's key space is separate.
    const someoneElse = await h.customer({ card: 'pm_card_visa' });
    const theirs = await h.checkout(someoneElse, { creditPackId: h.pack.id, quantity: 2 }, key);
    expect(theirs.status).toBe(202);
    expect(theirs.body.data.id).not.toBe(first.body.data.id);
  });

  it('requires a valid Idempotency-Key and a valid body (4xx in the envelope, nothing recorded)', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const missing = await h.checkout(who, { creditPackId: h.pack.id }, null);
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('idempotency_key_missing');
    const tooLong = await h.checkout(who, { creditPackId: h.pack.id }, 'k'.repeat(256));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('validation_failed');
    for (const body of [
      {},
      { creditPackId: 'nope' },
      { creditPackId: h.pack.id, quantity: 0 },
      { creditPackId: h.pack.id, quantity: 1.5 },
      { creditPackId: h.pack.id, quantity: '2' },
      { creditPackId: h.pack.id, extra: true },
    ]) {
      const res = await h.checkout(who, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.success).toBe(false);
    }
    const overLimit = await h.checkout(who, {
      creditPackId: h.pack.id,
      quantity: h.env.config.MAX_PURCHASE_QUANTITY + 1,
    });
    expect(overLimit.status).toBe(422);
    expect(overLimit.body.error.code).toBe('quantity_exceeds_limit');
    const unauthenticated = await call(h.app, 'POST', '/v1/portal/purchases', {
      body: { creditPackId: h.pack.id },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(unauthenticated.status).toBe(401);
    expect(await purchasesOf(who.id)).toHaveLength(0);
  });

  it('answers known eligibility failures at once with their code, records nothing and starts no workflow', async () => {
    const hidden = await newPack(h.app, h.world, {
      visibility: { type: 'plans', planIds: [h.world.plans.enterprise.id] },
    });
    const archived = await newPack(h.app, h.world, {});
    await ok(h.app, 'POST', `/v1/credit-packs/${archived.id}/archive`, {
      token: h.world.apiKey,
      status: 200,
    });
    const cases = [
      { who: { status: 'past_due' }, pack: h.pack.id, status: 422, code: 'subscription_past_due' },
      { who: { status: 'canceled' }, pack: h.pack.id, status: 422, code: 'subscription_canceled' },
      { who: { status: 'ended' }, pack: h.pack.id, status: 422, code: 'subscription_ended' },
      { who: { plan: null }, pack: h.pack.id, status: 422, code: 'subscription_inactive' },
      { who: { plan: 'metered' as const }, pack: h.pack.id, status: 422, code: 'plan_not_credits_based' },
      { who: {}, pack: hidden.id, status: 422, code: 'pack_not_visible' },
      { who: {}, pack: archived.id, status: 409, code: 'credit_pack_archived' },
      { who: {}, pack: 'cpk_doesnotexist1', status: 404, code: 'credit_pack_not_found' },
    ];
    for (const c of cases) {
      const who = await h.customer({ card: 'pm_card_visa', ...c.who });
      const res = await h.checkout(who, { creditPackId: c.pack });
      expect(res.status, c.code).toBe(c.status);
      expect(res.body.error.code).toBe(c.code);
      expect(await purchasesOf(who.id)).toHaveLength(0);
      const workflows = await h.env.temporal.client.workflow.count(`CreditPackCustomerId = '${who.id}'`);
      expect(workflows.count).toBe(0);
    }
    // Another organization's pack does not exist for this customer.
    const otherOrgPack = await newPack(h.app, await newWorld(h.app));
    const who = await h.customer({ card: 'pm_card_visa' });
    const res = await h.checkout(who, { creditPackId: otherOrgPack.id });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('credit_pack_not_found');
  });

  it('a free-plan customer without a card is not refused: the purchase asks for one (add_payment_method)', async () => {
    const who = await h.customer({ plan: 'free' });
    const res = await h.checkout(who);
    expect(res.status).toBe(202);
    // The answer waits (bounded) for the purchase to need something: here, a card.
    expect(res.body.data.status).toBe('awaiting_payment_method');
    expect(res.body.data.nextAction).toEqual({
      type: 'add_payment_method',
      clientSecret: expect.stringMatching(/^seti_.+_secret_/),
    });
  });
});

describe('POST /v1/portal/purchases: bodies refused before anything is read', () => {
  it('malformed JSON (400), a wrong content type (415) and a huge body (413) change nothing', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const post = (raw: string, contentType: string) =>
      call(h.app, 'POST', '/v1/portal/purchases', {
        token: who.token,
        raw,
        headers: { 'content-type': contentType, 'idempotency-key': randomUUID() },
      });
    const good = JSON.stringify({ creditPackId: h.pack.id });
    const cases: [string, Awaited<ReturnType<typeof post>>, number, string][] = [
      ['truncated JSON', await post(good.slice(0, -3), 'application/json'), 400, 'invalid_json'],
      [
        'single quotes',
        await post(`{'creditPackId': '${h.pack.id}'}`, 'application/json'),
        400,
        'invalid_json',
      ],
      ['empty body', await post('', 'application/json'), 400, 'invalid_json'],
      ['text/plain', await post(good, 'text/plain'), 415, 'unsupported_media_type'],
      [
        'form',
        await post(`creditPackId=${h.pack.id}`, 'application/x-www-form-urlencoded'),
        415,
        'unsupported_media_type',
      ],
      [
        'huge',
        await post(JSON.stringify({ creditPackId: h.pack.id, pad: 'x'.repeat(200_000) }), 'application/json'),
        413,
        'payload_too_large',
      ],
    ];
    for (const [what, res, status, code] of cases) {
      expect(res.status, what).toBe(status);
      expect(res.body, what).toEqual({ success: false, error: { code, message: expect.any(String) } });
    }
    expect(await purchasesOf(who.id)).toHaveLength(0);
    const workflows = await h.env.temporal.client.workflow.count(`CreditPackCustomerId = '${who.id}'`);
    expect(workflows.count).toBe(0);
  });
});

describe('MAX_PURCHASE_QUANTITY (configurable limit)', () => {
  /** A portal like the harness's, with its own quantity limit. */
  const portalWithLimit = (maxQuantity: number) =>
    buildApp({
      config: { ...h.env.config, MAX_PURCHASE_QUANTITY: maxQuantity },
      sql: h.env.sql,
      logger: false,
      temporal: h.env.temporal.client,
      stripe: h.env.stripe,
      checkoutWaitMs: 3_000,
    });

  it('a portal configured with 3 takes quantity 3 (202) and refuses 4 (422); its documents say 3', async () => {
    const limited = await portalWithLimit(3);
    try {
      const who = await h.customer({ card: 'pm_card_visa' });
      const buy = (quantity: number) =>
        call(limited, 'POST', '/v1/portal/purchases', {
          token: who.token,
          body: { creditPackId: h.pack.id, quantity },
          headers: { 'idempotency-key': randomUUID() },
        });
      const four = await buy(4);
      expect(four.status).toBe(422);
      expect(four.body.error).toEqual({
        code: 'quantity_exceeds_limit',
        message: 'Quantity must be a whole number from 1 to 3.',
      });
      expect(await purchasesOf(who.id)).toHaveLength(0);
      const three = await buy(3);
      expect(three.status).toBe(202);
      expect(three.body.data).toMatchObject({ quantity: 3, credits: 1500, price: 12000 });
      expect((await purchasesOf(who.id)).map((p) => p.id)).toEqual([three.body.data.id]);
      await h.purchaseReaches(who, three.body.data.id, 'completed');

      // The documented bound and the portal page's setting are this server's limit.
      const doc = (await call(limited, 'GET', '/openapi.json')).body;
      const quantity =
        doc.paths['/v1/portal/purchases'].post.requestBody.content['application/json'].schema.properties
          .quantity;
      expect(quantity).toMatchObject({ minimum: 1, maximum: 3 });
      expect((await ok(limited, 'GET', '/v1/portal/settings', { token: who.token })).maxQuantity).toBe(3);
    } finally {
      await limited.close();
    }
    // The default portal documents its own limit.
    const doc = (await call(h.app, 'GET', '/openapi.json')).body;
    expect(
      doc.paths['/v1/portal/purchases'].post.requestBody.content['application/json'].schema.properties
        .quantity.maximum,
    ).toBe(h.env.config.MAX_PURCHASE_QUANTITY);
  });

  it('a known Idempotency-Key is judged on its key first, whatever the limit is now', async () => {
    expect(h.env.config.MAX_PURCHASE_QUANTITY).toBeGreaterThanOrEqual(5);
    const who = await h.customer({ card: 'pm_card_visa' });
    const key = randomUUID();
    const first = await h.checkout(who, { creditPackId: h.pack.id, quantity: 5 }, key);
    expect(first.status).toBe(202);
    const id = first.body.data.id as string;
    await h.purchaseReaches(who, id, 'completed');

    // The limit was lowered to 3 since: the same key and body still answer the purchase it made,
    // the same key with another over-limit body is a reused key, and a new key is refused by the limit.
    const limited = await portalWithLimit(3);
    try {
      const send = (quantity: number, idempotencyKey: string) =>
        call(limited, 'POST', '/v1/portal/purchases', {
          token: who.token,
          body: { creditPackId: h.pack.id, quantity },
          headers: { 'idempotency-key': idempotencyKey },
        });
      const replay = await send(5, key);
      expect(replay.status).toBe(202);
      expect(replay.body.data).toMatchObject({ id, quantity: 5, status: 'completed' });
      const otherBody = await send(4, key);
      expect(otherBody.status).toBe(409);
      expect(otherBody.body.error.code).toBe('idempotency_key_reused');
      const fresh = await send(5, randomUUID());
      expect(fresh.status).toBe(422);
      expect(fresh.body.error.code).toBe('quantity_exceeds_limit');
    } finally {
      await limited.close();
    }

    // createPurchase itself (the command line's path too) looks the key up before the bound.
    const request = {
      organizationId: h.world.orgId,
      customerId: who.id,
      creditPackId: h.pack.id,
      quantity: 5,
      idempotencyKey: key,
    };
    const again = await createPurchase(h.env.sql, request, { maxQuantity: 3 });
    expect(again).toMatchObject({ created: false, purchase: { id } });
    await expect(
      createPurchase(h.env.sql, { ...request, quantity: 4 }, { maxQuantity: 3 }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    await expect(
      createPurchase(h.env.sql, { ...request, idempotencyKey: randomUUID() }, { maxQuantity: 3 }),
    ).rejects.toMatchObject({ code: 'quantity_exceeds_limit' });

    expect((await purchasesOf(who.id)).map((p) => p.id)).toEqual([id]);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, id);
    expect(stripe.charges.filter((c) => c.status === 'succeeded').map((c) => c.amount)).toEqual([20000]);
  });
});

describe('POST /v1/portal/purchases while the workflow service is unreachable', () => {
  it('a purchase recorded but not started answers 202 pending (never an error); the sweep starts it, charged once', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    // A portal whose Temporal is unreachable (nothing listens on that port); Postgres is up.
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
    const down = await buildApp({
      config: h.env.config,
      sql: h.env.sql,
      logger: false,
      temporal: new Client({ connection }),
      stripe: h.env.stripe,
      checkoutWaitMs: 3_000,
    });
    const key = randomUUID();
    let purchaseId: string;
    try {
      const res = await call(down, 'POST', '/v1/portal/purchases', {
        token: who.token,
        body: { creditPackId: h.pack.id },
        headers: { 'idempotency-key': key },
      });
      expect(res.status).toBe(202);
      expect(res.body.data).toMatchObject({ status: 'pending', nextAction: null, failure: null });
      purchaseId = res.body.data.id;
      expect(res.headers.location).toBe(`/v1/portal/purchases/${purchaseId}`);
    } finally {
      await down.close();
      await connection.close().catch(() => {});
    }
    // The row is the promise: recorded, pending, nothing running yet.
    expect((await purchasesOf(who.id)).map((p) => p.id)).toEqual([purchaseId]);
    expect((await ok(h.app, 'GET', `/v1/portal/purchases/${purchaseId}`, { token: who.token })).status).toBe(
      'pending',
    );
    expect(await workflowExists(purchaseId)).toBe(false);

    // The worker's sweep starts it, once; it completes.
    expect((await sweep()).started).toEqual([purchaseId]);
    await h.purchaseReaches(who, purchaseId, 'completed');
    // A retry of the same key (the page retries) is the same purchase, not a second one.
    const again = await h.checkout(who, { creditPackId: h.pack.id }, key);
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ id: purchaseId, status: 'completed' });
    expect((await purchasesOf(who.id)).map((p) => p.id)).toEqual([purchaseId]);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect((await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token })).purchasedCredits).toBe(500);
  });

  it('nothing recorded when there is no workflow service at all: 503, retry with the same key', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const none = await buildApp({
      config: h.env.config,
      sql: h.env.sql,
      logger: false,
      stripe: h.env.stripe,
    });
    try {
      const res = await call(none, 'POST', '/v1/portal/purchases', {
        token: who.token,
        body: { creditPackId: h.pack.id },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('service_unavailable');
    } finally {
      await none.close();
    }
    expect(await purchasesOf(who.id)).toEqual([]);
  });
});

describe('POST /v1/portal/purchases/{id}/cancel', () => {
  it('cancels a purchase recorded but never started (no workflow): canceled at once, and the sweep leaves it', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const purchase = await recordedOnly(who);
    const cancel = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data).toMatchObject({
      id: purchase.id,
      status: 'canceled',
      nextAction: null,
      failure: { code: 'canceled', message: 'Canceled by the customer.' },
    });
    expect((await ok(h.app, 'GET', `/v1/portal/purchases/${purchase.id}`, { token: who.token })).status).toBe(
      'canceled',
    );
    expect((await sweep()).started).not.toContain(purchase.id);
    expect(await workflowExists(purchase.id)).toBe(false);
    const again = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('purchase_not_cancelable');
    expect(await stripeRecordsOf(h.env.emulatorUrl, purchase.id)).toMatchObject({ paymentIntents: [] });

    // The operator's twin.
    const other = await recordedOnly(who);
    const byOperator = await call(h.app, 'POST', `/v1/purchases/${other.id}/cancel`, {
      token: h.world.apiKey,
    });
    expect(byOperator.status).toBe(200);
    expect(byOperator.body.data).toMatchObject({
      id: other.id,
      status: 'canceled',
      customerId: who.id,
      failure: { code: 'canceled', message: 'Canceled by an operator.' },
    });
    expect((await sweep()).started).not.toContain(other.id);
  });

  it('a pending purchase a workflow claimed, whose workflow is gone, is not canceled behind its back (409)', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const purchase = await recordedOnly(who);
    // Claimed by a run (the workflow's first activity), but that workflow is not there to ask.
    await h.env.sql`update purchases set workflow_run_id = 'run-gone' where id = ${purchase.id}`;
    const cancel = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('purchase_not_cancelable');
    const [row] = await h.env.sql<
      { status: string }[]
    >`select status from purchases where id = ${purchase.id}`;
    expect(row?.status).toBe('pending');
    // Settle it so the sweep of later tests has nothing of this one to start (it would find it claimed).
    await h.env.sql`
      update purchases set status = 'failed', failure_code = 'test', failure_message = 'test'
       where id = ${purchase.id}`;
  });

  it('cancels a purchase waiting for a card: canceled, SetupIntent canceled, nothing charged', async () => {
    const who = await h.customer({ plan: 'free' });
    const res = await h.checkout(who);
    const purchase = await h.purchaseReaches(who, res.body.data.id, 'awaiting_payment_method');
    const cancel = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data).toMatchObject({
      id: purchase.id,
      status: 'canceled',
      nextAction: null,
      failure: { code: 'canceled', message: 'Canceled by the customer.' },
    });
    const read = await ok(h.app, 'GET', `/v1/portal/purchases/${purchase.id}`, { token: who.token });
    expect(read.status).toBe('canceled');
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['canceled']);
    expect(stripe.paymentIntents).toHaveLength(0);
    // Canceling again is too late.
    const again = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('purchase_not_cancelable');
  });

  it('refuses a settled purchase with 409 purchase_not_cancelable, and hides other customers’ purchases', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const res = await h.checkout(who);
    await h.purchaseReaches(who, res.body.data.id, 'completed');
    const late = await call(h.app, 'POST', `/v1/portal/purchases/${res.body.data.id}/cancel`, {
      token: who.token,
    });
    expect(late.status).toBe(409);
    expect(late.body).toEqual({
      success: false,
      error: { code: 'purchase_not_cancelable', message: expect.stringContaining('completed') },
    });
    const stranger = await h.customer({ plan: 'free' });
    const theirs = await call(h.app, 'POST', `/v1/portal/purchases/${res.body.data.id}/cancel`, {
      token: stranger.token,
    });
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe('purchase_not_found');
    expect((await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token })).purchasedCredits).toBe(500);
  });

  it('cancels a purchase waiting for 3-D Secure: the PaymentIntent is canceled, nothing charged', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const res = await h.checkout(who);
    const purchase = await h.purchaseReaches(who, res.body.data.id, 'requires_action');
    expect(purchase.nextAction).toEqual({
      type: 'authenticate',
      clientSecret: expect.stringMatching(/^pi_/),
    });
    const cancel = await call(h.app, 'POST', `/v1/portal/purchases/${purchase.id}/cancel`, {
      token: who.token,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data.status).toBe('canceled');
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchase.id);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(0);
  });

  it('an operator cancels through POST /v1/purchases/{id}/cancel (admin API key)', async () => {
    const who = await h.customer({ plan: 'free' });
    const res = await h.checkout(who);
    await h.purchaseReaches(who, res.body.data.id, 'awaiting_payment_method');
    const cancel = await call(h.app, 'POST', `/v1/purchases/${res.body.data.id}/cancel`, {
      token: h.world.apiKey,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data).toMatchObject({
      status: 'canceled',
      customerId: who.id,
      failure: { code: 'canceled', message: 'Canceled by an operator.' },
    });
  });
});

describe('readiness', () => {
  it('/readyz checks Temporal when the portal has a client', async () => {
    expect(await ok(h.app, 'GET', '/readyz')).toEqual({
      status: 'ready',
      checks: { postgres: 'ok', temporal: 'ok' },
    });
  });
});
