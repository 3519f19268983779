/**
 * Emulator-only: disputes and refunds that end later (test cards 0259, 5126, 7726), the control routes that
 * drive them (open/close a dispute, hold and settle a refund, the async delay), and the account-wide lists
 * an invariant checker uses. The parts real Stripe shares run in behaviour.ts too.
 */
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EmulatorFixture, errorOf, startEmulatorFixture, waitFor } from './helpers';

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await startEmulatorFixture();
});
afterAll(() => fx?.handle.close());
beforeEach(() => fx.control('POST', '/_emulator/reset'));

async function charge(token: string, amount = 1000, apiVersion?: string) {
  const customer = await fx.stripe.customers.create({ email: 'd@example.com' });
  const pm = await fx.stripe.paymentMethods.attach(token, { customer: customer.id });
  const pi = await fx.stripe.paymentIntents.create(
    {
      amount,
      currency: 'usd',
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
      metadata: { purchase_id: 'pur_d' },
    },
    { idempotencyKey: `k-${randomUUID()}`, ...(apiVersion ? { apiVersion } : {}) },
  );
  expect(pi.status).toBe('succeeded');
  return { customer: customer.id, pi, chargeId: pi.latest_charge as string };
}

async function eventsOf(objectId: string) {
  const state = await fx.state();
  return state.events.filter((e) => (e.data.object as { id: string }).id === objectId);
}

describe('disputes', () => {
  it('pm_card_createDispute: dispute dp_ on the charge at once (default), funds withdrawn, no request on its events', async () => {
    const { pi, chargeId } = await charge('pm_card_createDispute');
    const state = await fx.state();
    expect(state.disputes).toHaveLength(1);
    const dispute = state.disputes[0]!;
    expect(dispute).toMatchObject({
      object: 'dispute',
      charge: chargeId,
      payment_intent: pi.id,
      amount: 1000,
      currency: 'usd',
      status: 'needs_response',
      reason: 'fraudulent',
      metadata: {},
      livemode: false,
      is_charge_refundable: false,
    });
    expect(dispute.created).toBeGreaterThan(0);
    const types = state.events.map((e) => e.type);
    // after the charge's own events, in this order
    expect(types.slice(types.indexOf('payment_intent.succeeded'))).toEqual([
      'payment_intent.succeeded',
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
    ]);
    const created = (await eventsOf(dispute.id)).find((e) => e.type === 'charge.dispute.created')!;
    expect(created.request).toEqual({ id: null, idempotency_key: null });
    expect((await fx.stripe.charges.retrieve(chargeId)).disputed).toBe(true);
  });

  it('a card without a dispute leaves the charge undisputed, and lists filter by payment_intent and charge', async () => {
    const plain = await charge('pm_card_visa');
    const disputed = await charge('pm_card_createDispute');
    expect((await fx.stripe.charges.retrieve(plain.chargeId)).disputed).toBe(false);
    expect((await fx.stripe.disputes.list({ payment_intent: plain.pi.id })).data).toEqual([]);
    expect((await fx.stripe.disputes.list({ charge: disputed.chargeId })).data).toHaveLength(1);
    expect((await fx.stripe.disputes.list()).data).toHaveLength(1);
    const missing = await errorOf(() => fx.stripe.disputes.retrieve('dp_nope'));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('resource_missing');
  });

  it('a disputed charge cannot be refunded (charge_disputed)', async () => {
    const { pi } = await charge('pm_card_createDispute');
    const err = await errorOf(() => fx.stripe.refunds.create({ payment_intent: pi.id }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('charge_disputed');
    expect((await fx.state()).refunds).toEqual([]);
  });

  it('control: closed as won → charge.dispute.closed and charge.dispute.funds_reinstated; a closed dispute stays closed', async () => {
    const { pi } = await charge('pm_card_createDispute');
    const dispute = (await fx.stripe.disputes.list({ payment_intent: pi.id })).data[0]!;
    const won = await fx.control<Stripe.Dispute>('POST', `/_emulator/disputes/${dispute.id}/close`, {
      outcome: 'won',
    });
    expect(won.status).toBe('won');
    expect((await fx.stripe.disputes.retrieve(dispute.id)).status).toBe('won');
    const events = await eventsOf(dispute.id);
    expect(events.map((e) => e.type)).toEqual([
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.closed',
      'charge.dispute.funds_reinstated',
    ]);
    const closed = events.find((e) => e.type === 'charge.dispute.closed')!;
    expect(closed.data.previous_attributes).toEqual({ status: 'needs_response' });
    await expect(
      fx.control('POST', `/_emulator/disputes/${dispute.id}/close`, { outcome: 'lost' }),
    ).rejects.toThrow(/answered 400.*already closed/);
  });

  it('control: closed as lost → charge.dispute.closed only; the charge stays disputed', async () => {
    const { pi, chargeId } = await charge('pm_card_createDispute');
    const dispute = (await fx.stripe.disputes.list({ payment_intent: pi.id })).data[0]!;
    await fx.control('POST', `/_emulator/disputes/${dispute.id}/close`, { outcome: 'lost' });
    expect((await eventsOf(dispute.id)).map((e) => e.type)).toEqual([
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.closed',
    ]);
    expect((await fx.stripe.charges.retrieve(chargeId)).disputed).toBe(true);
  });

  it('the API: evidence winning_evidence wins, losing_evidence loses, close accepts the loss', async () => {
    const a = await charge('pm_card_createDispute');
    const da = (await fx.stripe.disputes.list({ payment_intent: a.pi.id })).data[0]!;
    const submitted = await fx.stripe.disputes.update(da.id, {
      evidence: { uncategorized_text: 'winning_evidence' },
      metadata: { case: 'a' },
    });
    expect(submitted.status).toBe('under_review'); // the answer; the outcome comes after
    expect(await fx.stripe.disputes.retrieve(da.id)).toMatchObject({
      status: 'won',
      metadata: { case: 'a' },
    });

    const b = await charge('pm_card_createDispute');
    const db = (await fx.stripe.disputes.list({ payment_intent: b.pi.id })).data[0]!;
    await fx.stripe.disputes.update(db.id, { evidence: { uncategorized_text: 'losing_evidence' } });
    expect((await fx.stripe.disputes.retrieve(db.id)).status).toBe('lost');

    const c = await charge('pm_card_createDispute');
    const dc = (await fx.stripe.disputes.list({ payment_intent: c.pi.id })).data[0]!;
    expect((await fx.stripe.disputes.close(dc.id)).status).toBe('lost');
    expect((await eventsOf(dc.id)).map((e) => e.type)).toContain('charge.dispute.closed');
    const again = await errorOf(() => fx.stripe.disputes.close(dc.id));
    expect(again.statusCode).toBe(400);
  });

  it('control: opens a dispute on any succeeded charge (reason, amount), once', async () => {
    const { pi, chargeId } = await charge('pm_card_visa', 2500);
    const dispute = await fx.control<Stripe.Dispute>('POST', `/_emulator/charges/${chargeId}/dispute`, {
      reason: 'product_not_received',
      amount: 1000,
    });
    expect(dispute).toMatchObject({ payment_intent: pi.id, amount: 1000, reason: 'product_not_received' });
    await expect(fx.control('POST', `/_emulator/charges/${chargeId}/dispute`, {})).rejects.toThrow(
      /already disputed/,
    );
    await expect(fx.control('POST', '/_emulator/charges/ch_nope/dispute', {})).rejects.toThrow(
      /answered 404/,
    );
  });

  it('async delay: n ms later, or manual (never on its own); reset restores the default and drops what was scheduled', async () => {
    await fx.control('POST', '/_emulator/async', { delayMs: 150 });
    const late = await charge('pm_card_createDispute');
    expect((await fx.stripe.disputes.list({ payment_intent: late.pi.id })).data).toEqual([]);
    await waitFor(
      async () => (await fx.stripe.disputes.list({ payment_intent: late.pi.id })).data[0],
      'the dispute, 150 ms later',
    );

    await fx.control('POST', '/_emulator/async', { delayMs: 'manual' });
    const held = await charge('pm_card_createDispute');
    await new Promise((r) => setTimeout(r, 200));
    expect((await fx.stripe.disputes.list({ payment_intent: held.pi.id })).data).toEqual([]);

    await fx.control('POST', '/_emulator/async', { delayMs: 200 });
    await charge('pm_card_createDispute');
    await fx.control('POST', '/_emulator/reset');
    await new Promise((r) => setTimeout(r, 300));
    const state = await fx.state();
    expect(state.disputes).toEqual([]);
    expect(state.events).toEqual([]);
    // default again: at once
    const now = await charge('pm_card_createDispute');
    expect((await fx.stripe.disputes.list({ payment_intent: now.pi.id })).data).toHaveLength(1);
  });
});

describe('refunds that end later', () => {
  it('pm_card_refundFail: answered succeeded, then failed with failure_reason; the charge gets the amount back; events in order', async () => {
    const { pi, chargeId } = await charge('pm_card_refundFail');
    const refund = await fx.stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
    expect(refund.status).toBe('succeeded');
    const now = await fx.stripe.refunds.retrieve(refund.id);
    expect(now).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card', amount: 400 });
    expect(await fx.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false });
    const events = await eventsOf(refund.id);
    expect(events.map((e) => e.type)).toEqual([
      'refund.created',
      'refund.updated',
      'charge.refund.updated',
      'refund.failed',
    ]);
    const updated = events.find((e) => e.type === 'charge.refund.updated')!;
    expect((updated.data.object as Stripe.Refund).status).toBe('failed');
    expect(updated.data.previous_attributes).toEqual({ status: 'succeeded' });
    expect(updated.request).toEqual({ id: null, idempotency_key: null });
    // the amount can be refunded again (and fails again: same card)
    const second = await fx.stripe.refunds.create({ payment_intent: pi.id });
    expect(second.amount).toBe(1000);
  });

  it('refund.failed only from API 2024-10-28 on: an older Stripe-Version gets refund.updated and charge.refund.updated', async () => {
    const { pi } = await charge('pm_card_refundFail');
    const refund = await fx.stripe.refunds.create(
      { payment_intent: pi.id },
      { apiVersion: '2024-06-20' as Stripe.LatestApiVersion },
    );
    expect((await eventsOf(refund.id)).map((e) => e.type)).toEqual([
      'refund.created',
      'refund.updated',
      'charge.refund.updated',
    ]);
  });

  it('pm_card_pendingRefund: answered pending (pending_reason processing), then succeeded', async () => {
    const { pi, chargeId } = await charge('pm_card_pendingRefund');
    const refund = await fx.stripe.refunds.create({ payment_intent: pi.id });
    expect(refund).toMatchObject({ status: 'pending', pending_reason: 'processing' });
    const now = await fx.stripe.refunds.retrieve(refund.id);
    expect(now.status).toBe('succeeded');
    expect(now.pending_reason).toBeUndefined();
    expect(await fx.stripe.charges.retrieve(chargeId)).toMatchObject({
      amount_refunded: 1000,
      refunded: true,
    });
    const updated = (await eventsOf(refund.id)).find((e) => e.type === 'refund.updated')!;
    expect(updated.data.previous_attributes).toEqual({ status: 'pending', pending_reason: 'processing' });
  });

  it('async delay manual: the refund of a 5126 card stays succeeded until a test fails it', async () => {
    await fx.control('POST', '/_emulator/async', { delayMs: 'manual' });
    const { pi } = await charge('pm_card_refundFail');
    const refund = await fx.stripe.refunds.create({ payment_intent: pi.id });
    await new Promise((r) => setTimeout(r, 50));
    expect((await fx.stripe.refunds.retrieve(refund.id)).status).toBe('succeeded');
    const failed = await fx.control<Stripe.Refund>('POST', `/_emulator/refunds/${refund.id}/settle`, {
      outcome: 'failed',
      failure_reason: 'lost_or_stolen_card',
    });
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'lost_or_stolen_card' });
  });

  it("control: a PaymentIntent's next refund stays pending (counted in amount_refunded) until settled; then refunds are immediate again", async () => {
    const { pi, chargeId } = await charge('pm_card_visa');
    await fx.control('POST', `/_emulator/payment_intents/${pi.id}/pend_next_refund`, {});
    const held = await fx.stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    expect(held.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 50));
    expect((await fx.stripe.refunds.retrieve(held.id)).status).toBe('pending');
    expect((await fx.stripe.charges.retrieve(chargeId)).amount_refunded).toBe(300);
    const next = await fx.stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
    expect(next.status).toBe('succeeded');

    const settled = await fx.control<Stripe.Refund>('POST', `/_emulator/refunds/${held.id}/settle`, {
      outcome: 'succeeded',
    });
    expect(settled.status).toBe('succeeded');
    expect((await eventsOf(held.id)).map((e) => e.type)).toEqual([
      'refund.created',
      'refund.updated',
      'charge.refund.updated',
    ]);
    await expect(
      fx.control('POST', `/_emulator/refunds/${held.id}/settle`, { outcome: 'succeeded' }),
    ).rejects.toThrow(/answered 400/);
  });

  it('control: a held refund settled failed gives its amount back and sends refund.failed', async () => {
    const { pi, chargeId } = await charge('pm_card_visa');
    await fx.control('POST', `/_emulator/payment_intents/${pi.id}/pend_next_refund`, {});
    const held = await fx.stripe.refunds.create({ payment_intent: pi.id });
    expect((await fx.stripe.charges.retrieve(chargeId)).refunded).toBe(true);
    await fx.control('POST', `/_emulator/refunds/${held.id}/settle`, {
      outcome: 'failed',
      failure_reason: 'insufficient_funds',
    });
    expect(await fx.stripe.refunds.retrieve(held.id)).toMatchObject({
      status: 'failed',
      failure_reason: 'insufficient_funds',
    });
    expect(await fx.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false });
    expect((await eventsOf(held.id)).map((e) => e.type)).toContain('refund.failed');
    await expect(
      fx.control('POST', '/_emulator/payment_intents/pi_nope/pend_next_refund', {}),
    ).rejects.toThrow(/answered 404/);
  });
});

describe('account-wide lists (created window, pagination)', () => {
  it('lists every PaymentIntent and refund of the account since a time, across customers, page by page', async () => {
    const since = Math.floor(Date.now() / 1000);
    const a = await charge('pm_card_visa', 1000);
    const b = await charge('pm_card_visa', 2000);
    const c = await charge('pm_card_visa', 3000);
    expect(new Set([a.customer, b.customer, c.customer]).size).toBe(3);
    const r1 = await fx.stripe.refunds.create({ payment_intent: a.pi.id });
    const r2 = await fx.stripe.refunds.create({ payment_intent: c.pi.id, amount: 100 });

    const page1 = await fx.stripe.paymentIntents.list({ created: { gte: since }, limit: 2 });
    expect(page1.has_more).toBe(true);
    const page2 = await fx.stripe.paymentIntents.list({
      created: { gte: since },
      limit: 2,
      starting_after: page1.data[1]!.id,
    });
    expect(page2.has_more).toBe(false);
    expect([...page1.data, ...page2.data].map((p) => p.id)).toEqual([c.pi.id, b.pi.id, a.pi.id]);
    expect((await fx.stripe.paymentIntents.list({ created: { gte: since + 3600 } })).data).toEqual([]);

    const refunds = await fx.stripe.refunds.list({ created: { gte: since }, limit: 1 });
    expect(refunds.data.map((r) => r.id)).toEqual([r2.id]);
    expect(refunds.has_more).toBe(true);
    const rest = await fx.stripe.refunds.list({ created: { gte: since }, limit: 1, starting_after: r2.id });
    expect(rest.data.map((r) => r.id)).toEqual([r1.id]);
    expect((await fx.stripe.refunds.list({ charge: c.chargeId })).data.map((r) => r.id)).toEqual([r2.id]);
    expect((await fx.stripe.refunds.list({ payment_intent: a.pi.id })).data.map((r) => r.id)).toEqual([
      r1.id,
    ]);
    // the SDK's auto-pagination walks the whole window
    const all: string[] = [];
    for await (const pi of fx.stripe.paymentIntents.list({ created: { gte: since }, limit: 1 }))
      all.push(pi.id);
    expect(all).toHaveLength(3);
  });
});
