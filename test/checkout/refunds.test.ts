// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refundPurchase, refundRequestHash, startOrphanedRefunds } from '../../src/purchases';
import { call, ok } from '../catalog/helpers';
import { waitFor } from '../support/wait';
import { type PortalHarness, portalHarness } from './harness';

/**
 * Refunds and disputes as a product feature (docs/api.md#contract-additions), all real: the admin API,
 * the refund workflow on the test worker, the Stripe emulator and its webhooks to this portal.
 * The pack: 500 credits for 4000 cents.
 */

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness();
});
afterAll(() => h?.close());

async function completedPurchase(card = 'pm_card_visa') {
  const who = await h.customer({ card });
  const res = await h.checkout(who);
  expect(res.status).toBe(202);
  const purchase = await h.purchaseReaches(who, res.body.data.id, 'completed');
  const [row] = await h.env.sql<{ pi: string }[]>`
    select stripe_payment_intent_id as pi from purchases where id = ${purchase.id}`;
  return { who, purchaseId: purchase.id as string, paymentIntentId: row?.pi as string };
}

function refund(purchaseId: string, body: Record<string, unknown> = {}, key: string | null = randomUUID()) {
  return call(h.app, 'POST', `/v1/purchases/${purchaseId}/refunds`, {
    token: h.world.apiKey,
    body,
    headers: key === null ? {} : { 'idempotency-key': key },
  });
}

const adminPurchase = (purchaseId: string) =>
  ok(h.app, 'GET', `/v1/purchases/${purchaseId}`, { token: h.world.apiKey });
const refundsOf = (purchaseId: string) =>
  ok(h.app, 'GET', `/v1/purchases/${purchaseId}/refunds`, { token: h.world.apiKey });
const balance = (customerId: string) =>
  ok(h.app, 'GET', `/v1/customers/${customerId}/balance`, { token: h.world.apiKey });

/** Waits until every refund of the purchase has left `pending`. */
const refundsSettle = (purchaseId: string) =>
  waitFor(async () => {
    const list = await refundsOf(purchaseId);
    return list.length > 0 && list.every((r: any) => r.status !== 'pending') ? list : null;
  }, `the refunds of ${purchaseId} to settle`);

async function stripeRefundedCents(paymentIntentId: string): Promise<number> {
  const refunds = await h.env.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 });
  return refunds.data.filter((r) => r.status === 'succeeded').reduce((sum, r) => sum + r.amount, 0);
}

describe('POST /v1/purchases/{id}/refunds', () => {
  it('refunds in full by default: credits back at once, refunded in Stripe, the purchase ends refunded', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    const res = await refund(purchaseId, { reason: 'requested_by_customer' });
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({
      purchaseId,
      amount: 4000,
      creditsReversed: 500,
      reason: 'requested_by_customer',
      status: 'pending',
    });
    expect(res.body.data.id).toMatch(/^ref_/);
    expect((await balance(who.id)).purchasedCredits).toBe(0);

    const [settled] = await refundsSettle(purchaseId);
    expect(settled).toMatchObject({ id: res.body.data.id, status: 'succeeded' });
    expect(await stripeRefundedCents(paymentIntentId)).toBe(4000);
    const purchase = await waitFor(async () => {
      const p = await adminPurchase(purchaseId);
      return p.status === 'refunded' ? p : null;
    }, 'the purchase to be refunded');
    expect(purchase).toMatchObject({ refundedAmount: 4000, creditsReversed: 500, trigger: 'portal' });
    // Stripe's own events for this refund found it known: still one refund, one reversal.
    expect(await refundsOf(purchaseId)).toHaveLength(1);
    const [reversals] = await h.env.sql<{ n: number }[]>`
      select count(*)::int as n from credit_ledger where purchase_id = ${purchaseId} and kind = 'reversal'`;
    expect(reversals?.n).toBe(1);
  });

  it('partial refunds add up, never beyond the price; the last one completes the refund', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    const first = await refund(purchaseId, { amount: 1000 });
    expect(first.body.data).toMatchObject({ amount: 1000, creditsReversed: 125 });
    const second = await refund(purchaseId, { amount: 1001 });
    // floor(500 × 2001 / 4000) = 250: this one takes 125 more
    expect(second.body.data).toMatchObject({ amount: 1001, creditsReversed: 125 });
    const tooMuch = await refund(purchaseId, { amount: 2000 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error.code).toBe('not_refundable');
    expect(await adminPurchase(purchaseId)).toMatchObject({ status: 'completed', refundedAmount: 2001 });

    const rest = await refund(purchaseId);
    expect(rest.body.data).toMatchObject({ amount: 1999, creditsReversed: 250 });
    await refundsSettle(purchaseId);
    expect(await stripeRefundedCents(paymentIntentId)).toBe(4000);
    await waitFor(async () => (await adminPurchase(purchaseId)).status === 'refunded', 'refunded in full');
    expect((await balance(who.id)).purchasedCredits).toBe(0);
    const again = await refund(purchaseId, { amount: 1 });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('not_refundable');
  });

  it('an Idempotency-Key answers its first answer again, and refuses another body or path', async () => {
    const { purchaseId } = await completedPurchase();
    const other = await completedPurchase();
    const key = randomUUID();
    const first = await refund(purchaseId, { amount: 500 }, key);
    const replay = await refund(purchaseId, { amount: 500 }, key);
    expect(replay.status).toBe(202);
    expect(replay.body.data).toEqual(first.body.data);
    expect(await refundsOf(purchaseId)).toHaveLength(1);

    const otherBody = await refund(purchaseId, { amount: 600 }, key);
    expect(otherBody.status).toBe(409);
    expect(otherBody.body.error.code).toBe('idempotency_key_reused');
    const otherPath = await refund(other.purchaseId, { amount: 500 }, key);
    expect(otherPath.status).toBe(409);
    expect(otherPath.body.error.code).toBe('idempotency_key_reused');
    expect(await refundsOf(other.purchaseId)).toHaveLength(0);
  });

  it('refuses bad requests with their code and changes nothing', async () => {
    const { who, purchaseId } = await completedPurchase();
    const missingKey = await refund(purchaseId, {}, null);
    expect(missingKey.status).toBe(400);
    expect(missingKey.body.error.code).toBe('idempotency_key_missing');
    for (const body of [
      { amount: 0 },
      { amount: -5 },
      { amount: 1.5 },
      { amount: '100' },
      { reason: 'because' },
    ]) {
      const res = await refund(purchaseId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const unknown = await refund('pur_00000000000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('purchase_not_found');

    // Not completed: a purchase waiting for a card.
    const noCard = await h.customer();
    const waiting = await h.checkout(noCard);
    await h.purchaseReaches(noCard, waiting.body.data.id, 'awaiting_payment_method');
    const notCompleted = await refund(waiting.body.data.id);
    expect(notCompleted.status).toBe(409);
    expect(notCompleted.body.error.code).toBe('not_refundable');

    expect(await refundsOf(purchaseId)).toHaveLength(0);
    expect(await adminPurchase(purchaseId)).toMatchObject({ refundedAmount: 0, creditsReversed: 0 });
    expect((await balance(who.id)).purchasedCredits).toBe(500);
    const [keys] = await h.env.sql<{ n: number }[]>`
      select count(*)::int as n from api_idempotency_keys where organization_id = ${h.world.orgId}
         and request_path = ${`/v1/purchases/${purchaseId}/refunds`}`;
    expect(keys?.n).toBe(0);
  });

  it('credits already spent become a negative purchased balance, shown as it is', async () => {
    const { who, purchaseId } = await completedPurchase();
    // The customer used 400 of the 500 credits (usage is recorded straight in the ledger here).
    await h.env.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description)
      values (${h.world.orgId}, ${who.id}, 'purchased', 'usage', -400, 'test usage')`;
    await refund(purchaseId);
    expect(await balance(who.id)).toMatchObject({ purchasedCredits: -400 });
  });

  it('a refund that fails gives the credits back and the purchase returns to completed', async () => {
    const { who, purchaseId } = await completedPurchase('pm_card_refundFail');
    const res = await refund(purchaseId);
    expect(res.status).toBe(202);
    const [settled] = await refundsSettle(purchaseId);
    expect(settled.status).toBe('failed');
    const purchase = await waitFor(async () => {
      const p = await adminPurchase(purchaseId);
      return p.status === 'completed' && p.refundedAmount === 0 ? p : null;
    }, 'the credits given back');
    expect(purchase.creditsReversed).toBe(0);
    expect((await balance(who.id)).purchasedCredits).toBe(500);
    const [restores] = await h.env.sql<{ n: number }[]>`
      select count(*)::int as n from credit_ledger where purchase_id = ${purchaseId} and kind = 'reversal_restore'`;
    expect(restores?.n).toBe(1);
  });
});

describe('a refund recorded while the workflow service is away', () => {
  it('is answered pending, and the sweep starts its workflow: refunded once', async () => {
    const { purchaseId, paymentIntentId } = await completedPurchase();
    const log = { info: () => {}, error: () => {} };
    const { statusCode, refund: recorded } = await refundPurchase(
      { sql: h.env.sql, temporal: null, config: h.env.config },
      {
        organizationId: h.world.orgId,
        purchaseId,
        amountCents: 1500,
        reason: null,
        idempotencyKey: randomUUID(),
        requestPath: `/v1/purchases/${purchaseId}/refunds`,
        requestHash: refundRequestHash({ amount: 1500, reason: null }),
      },
      { log },
    );
    expect(statusCode).toBe(202);
    expect(recorded).toMatchObject({ status: 'pending', amount: 1500 });
    expect(await stripeRefundedCents(paymentIntentId)).toBe(0);

    const config = h.env.config; // its task queue is this file's test worker's
    const swept = await startOrphanedRefunds(
      { sql: h.env.sql, client: h.env.temporal.client, config },
      { olderThanMs: 0 },
    );
    expect(swept.started).toContain(recorded.id);
    const [settled] = await refundsSettle(purchaseId);
    expect(settled).toMatchObject({ id: recorded.id, status: 'succeeded' });
    expect(await stripeRefundedCents(paymentIntentId)).toBe(1500);
    // A second sweep finds its workflow and starts nothing.
    const again = await startOrphanedRefunds(
      { sql: h.env.sql, client: h.env.temporal.client, config },
      { olderThanMs: 0 },
    );
    expect(again.started).not.toContain(recorded.id);
  });
});

describe('disputes (charge.dispute.created / closed)', () => {
  async function disputed() {
    const bought = await completedPurchase('pm_card_createDispute');
    const purchase = await waitFor(async () => {
      const p = await adminPurchase(bought.purchaseId);
      return p.dispute ? p : null;
    }, 'the dispute taken in');
    return { ...bought, purchase };
  }

  const disputeOf = async (paymentIntentId: string) =>
    (await h.env.stripe.disputes.list({ payment_intent: paymentIntentId })).data[0]!;

  it('holds the credits at once, refuses refunds while open, and gives them back when won', async () => {
    const { who, purchaseId, paymentIntentId, purchase } = await disputed();
    expect(purchase).toMatchObject({
      status: 'completed',
      dispute: { status: 'open', amount: 4000 },
      creditsReversed: 500,
    });
    expect((await balance(who.id)).purchasedCredits).toBe(0);
    const refused = await refund(purchaseId);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('not_refundable');

    await h.emulator('POST', `/disputes/${(await disputeOf(paymentIntentId)).id}/close`, { outcome: 'won' });
    const won = await waitFor(async () => {
      const p = await adminPurchase(purchaseId);
      return p.dispute?.status === 'won' ? p : null;
    }, 'the dispute won');
    expect(won.creditsReversed).toBe(0);
    expect((await balance(who.id)).purchasedCredits).toBe(500);
  });

  it('keeps the credits taken when lost; a repeated event changes nothing', async () => {
    const { who, purchaseId, paymentIntentId } = await disputed();
    const disputeId = (await disputeOf(paymentIntentId)).id;
    await h.emulator('POST', `/disputes/${disputeId}/close`, { outcome: 'lost' });
    await waitFor(
      async () => (await adminPurchase(purchaseId)).dispute?.status === 'lost',
      'the dispute lost',
    );
    const closed = (await h.stripeEvents({ purchaseId })).find((e) => e.type === 'charge.dispute.closed');
    expect(closed?.outcome).toBe('dispute_closed');
    await h.emulator('POST', '/webhooks/resend', { eventId: closed?.id });
    await waitFor(
      async () => ((await h.stripeEvents({ ids: [closed?.id as string] }))[0]?.deliveries ?? 0) >= 2,
      'the resend',
    );
    expect(await adminPurchase(purchaseId)).toMatchObject({
      creditsReversed: 500,
      dispute: { status: 'lost' },
    });
    expect((await balance(who.id)).purchasedCredits).toBe(0);
  });
});
