/**
 * The behaviour suite: Stripe semantics the product relies on, exercised only through the public API with the
 * real SDK, so the same tests run against the emulator and against real Stripe test mode. Assertions that need
 * the emulator's test-only routes (completing 3-D Secure) run only when the target offers them.
 */
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { errorOf, waitFor } from './helpers';

export interface BehaviourTarget {
  stripe: Stripe;
  /** test-only completion of a 3-D Secure challenge (emulator); absent for real Stripe */
  authenticate?: (
    kind: 'payment_intents' | 'setup_intents',
    id: string,
    outcome: 'succeed' | 'fail',
  ) => Promise<unknown>;
  /** how long events may take to show up in events.list */
  eventsDeadlineMs: number;
}

function headers(obj: unknown): Record<string, string> {
  return ((obj as { lastResponse: { headers: Record<string, string> } }).lastResponse.headers ??
    {}) as Record<string, string>;
}

export function defineBehaviourSuite(getTarget: () => BehaviourTarget): void {
  const s = () => getTarget().stripe;
  const key = () => `test-${randomUUID()}`;

  async function customerWithCard(token: string) {
    const customer = await s().customers.create({ email: 'buyer@example.com', name: 'Buyer' });
    const pm = await s().paymentMethods.attach(token, { customer: customer.id });
    return { customer, pm };
  }

  async function savedViaSetupIntent(token: string) {
    const customer = await s().customers.create({ email: 'buyer@example.com' });
    const si = await s().setupIntents.create({
      customer: customer.id,
      usage: 'off_session',
      allowed_payment_method_types: ['card'],
      metadata: { org_id: 'org_1' },
    });
    const confirmed = await s().setupIntents.confirm(si.id, { payment_method: token });
    return { customer, si: confirmed };
  }

  function offSessionCharge(customer: string, paymentMethod: string, idempotencyKey = key(), amount = 1000) {
    return s().paymentIntents.create(
      {
        amount,
        currency: 'usd',
        customer,
        payment_method: paymentMethod,
        confirm: true,
        off_session: true,
        metadata: { purchase_id: 'pur_1', org_id: 'org_1' },
      },
      { idempotencyKey },
    );
  }

  describe('requests and errors', () => {
    it('answers with Stripe id prefixes and a Request-Id header', async () => {
      const c = await s().customers.create({ email: 'a@example.com', metadata: { org_id: 'org_1' } });
      expect(c.id).toMatch(/^cus_/);
      expect(c.metadata).toEqual({ org_id: 'org_1' });
      expect(c.lastResponse.requestId).toMatch(/^req_/);
      const again = await s().customers.retrieve(c.id);
      expect((again as Stripe.Customer).email).toBe('a@example.com');
    });

    it('rejects unknown parameters with 400 parameter_unknown', async () => {
      const err = await errorOf(() =>
        s().customers.create({ emial: 'x@example.com' } as Stripe.CustomerCreateParams),
      );
      expect(err.type).toBe('StripeInvalidRequestError');
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('parameter_unknown');
      expect(err.param).toBe('emial');
      const nested = await errorOf(() =>
        s().customers.create({ invoice_settings: { nope: 'x' } } as unknown as Stripe.CustomerCreateParams),
      );
      expect(nested.code).toBe('parameter_unknown');
      expect(nested.param).toBe('invoice_settings[nope]');
    });

    it('answers 404 resource_missing for an unknown object', async () => {
      const err = await errorOf(() => s().paymentIntents.retrieve('pi_doesnotexist0000000000'));
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe('resource_missing');
    });
  });

  describe('customers and payment methods', () => {
    it('attaches, lists, sets the default, detaches', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      expect(pm.id).toMatch(/^pm_/);
      expect(pm.customer).toBe(customer.id);
      expect(pm.card?.last4).toBe('4242');
      const updated = await s().customers.update(customer.id, {
        invoice_settings: { default_payment_method: pm.id },
      });
      expect(updated.invoice_settings.default_payment_method).toBe(pm.id);
      const list = await s().paymentMethods.list({ customer: customer.id, type: 'card' });
      expect(list.data.map((p) => p.id)).toEqual([pm.id]);
      expect((await s().paymentMethods.retrieve(pm.id)).customer).toBe(customer.id);
      const detached = await s().paymentMethods.detach(pm.id);
      expect(detached.customer).toBeNull();
      expect((await s().paymentMethods.list({ customer: customer.id, type: 'card' })).data).toEqual([]);
    });

    it('refuses a default payment method that is not attached to the customer', async () => {
      const c = await s().customers.create({});
      const other = await customerWithCard('pm_card_visa');
      const err = await errorOf(() =>
        s().customers.update(c.id, { invoice_settings: { default_payment_method: other.pm.id } }),
      );
      expect(err.statusCode).toBe(400);
    });
  });

  describe('setup intents', () => {
    it('confirming saves the card on the customer', async () => {
      const { customer, si } = await savedViaSetupIntent('pm_card_visa');
      expect(si.id).toMatch(/^seti_/);
      expect(si.status).toBe('succeeded');
      expect(si.usage).toBe('off_session');
      expect(si.metadata).toEqual({ org_id: 'org_1' });
      const pmId = si.payment_method as string;
      expect((await s().paymentMethods.retrieve(pmId)).customer).toBe(customer.id);
      expect((await s().setupIntents.retrieve(si.id)).status).toBe('succeeded');
    });

    it('a declining card fails the setup with a card_error and leaves the intent reusable', async () => {
      const customer = await s().customers.create({});
      const si = await s().setupIntents.create({
        customer: customer.id,
        usage: 'off_session',
        allowed_payment_method_types: ['card'],
      });
      const err = await errorOf(() =>
        s().setupIntents.confirm(si.id, { payment_method: 'pm_card_chargeDeclined' }),
      );
      expect(err.statusCode).toBe(402);
      expect(err.type).toBe('StripeCardError');
      expect(err.code).toBe('card_declined');
      const after = await s().setupIntents.retrieve(si.id);
      expect(after.status).toBe('requires_payment_method');
      expect(after.last_setup_error?.code).toBe('card_declined');
    });

    it('cancels', async () => {
      const customer = await s().customers.create({});
      const si = await s().setupIntents.create({
        customer: customer.id,
        usage: 'off_session',
        allowed_payment_method_types: ['card'],
      });
      const canceled = await s().setupIntents.cancel(si.id);
      expect(canceled.status).toBe('canceled');
    });

    it('a 3-D Secure card needs authentication to be set up', async () => {
      const customer = await s().customers.create({});
      const si = await s().setupIntents.create({
        customer: customer.id,
        usage: 'off_session',
        allowed_payment_method_types: ['card'],
      });
      const confirmed = await s().setupIntents.confirm(si.id, {
        payment_method: 'pm_card_authenticationRequired',
        return_url: 'https://example.com/return',
      });
      expect(confirmed.status).toBe('requires_action');
      expect(confirmed.next_action).not.toBeNull();
      const t = getTarget();
      if (!t.authenticate) return;
      await t.authenticate('setup_intents', si.id, 'succeed');
      const done = await s().setupIntents.retrieve(si.id);
      expect(done.status).toBe('succeeded');
      expect((await s().paymentMethods.retrieve(done.payment_method as string)).customer).toBe(customer.id);
    });
  });

  describe('payment intents', () => {
    it('an off-session charge of a saved card succeeds with one charge', async () => {
      const { customer, si } = await savedViaSetupIntent('pm_card_visa');
      const pi = await offSessionCharge(customer.id, si.payment_method as string);
      expect(pi.id).toMatch(/^pi_/);
      expect(pi.status).toBe('succeeded');
      expect(pi.amount_received).toBe(1000);
      expect(pi.metadata).toEqual({ purchase_id: 'pur_1', org_id: 'org_1' });
      expect(pi.latest_charge).toMatch(/^ch_/);
      const charges = await s().charges.list({ payment_intent: pi.id });
      expect(charges.data).toHaveLength(1);
      expect(charges.data[0]).toMatchObject({
        status: 'succeeded',
        amount_captured: 1000,
        amount_refunded: 0,
      });
    });

    it('a saved card that declines (0341) answers 402 card_declined with the PaymentIntent, one failed charge', async () => {
      const { customer, si } = await savedViaSetupIntent('pm_card_chargeCustomerFail');
      expect(si.status).toBe('succeeded');
      const err = await errorOf(() => offSessionCharge(customer.id, si.payment_method as string));
      expect(err.statusCode).toBe(402);
      expect(err.type).toBe('StripeCardError');
      expect(err.code).toBe('card_declined');
      expect(err.decline_code).toBe('generic_decline');
      const pi = err.payment_intent as Stripe.PaymentIntent;
      expect(pi.id).toMatch(/^pi_/);
      expect(pi.status).toBe('requires_payment_method');
      expect(pi.last_payment_error?.code).toBe('card_declined');
      const charges = await s().charges.list({ payment_intent: pi.id });
      expect(charges.data).toHaveLength(1);
      expect(charges.data[0]?.status).toBe('failed');
      const all = await s().paymentIntents.list({ customer: customer.id });
      expect(all.data).toHaveLength(1);
    });

    it('insufficient funds (9995) declines with decline_code insufficient_funds', async () => {
      const err = await errorOf(() =>
        s().paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds',
          allowed_payment_method_types: ['card'],
          confirm: true,
        }),
      );
      expect(err.statusCode).toBe(402);
      expect(err.code).toBe('card_declined');
      expect(err.decline_code).toBe('insufficient_funds');
    });

    it('an off-session charge of a 3-D Secure card answers 402 authentication_required, intent left requires_payment_method', async () => {
      const { customer, pm } = await customerWithCard('pm_card_authenticationRequired');
      const err = await errorOf(() => offSessionCharge(customer.id, pm.id));
      expect(err.statusCode).toBe(402);
      expect(err.type).toBe('StripeCardError');
      expect(err.code).toBe('authentication_required');
      const pi = err.payment_intent as Stripe.PaymentIntent;
      expect(pi.status).toBe('requires_payment_method');
      expect((await s().paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    });

    it('an on-session confirmation of a 3-D Secure card goes to requires_action; authentication completes or fails it', async () => {
      const { customer, pm } = await customerWithCard('pm_card_authenticationRequired');
      const create = () =>
        s().paymentIntents.create({
          amount: 1500,
          currency: 'usd',
          customer: customer.id,
          payment_method: pm.id,
          allowed_payment_method_types: ['card'],
        });
      const pi = await create();
      expect(pi.status).toBe('requires_confirmation');
      const confirmed = await s().paymentIntents.confirm(pi.id, { return_url: 'https://example.com/return' });
      expect(confirmed.status).toBe('requires_action');
      expect(confirmed.next_action?.type).toBeDefined();
      expect(confirmed.client_secret).toMatch(new RegExp(`^${pi.id}_secret_`));
      const t = getTarget();
      if (!t.authenticate) return;
      await t.authenticate('payment_intents', pi.id, 'succeed');
      const done = await s().paymentIntents.retrieve(pi.id);
      expect(done.status).toBe('succeeded');
      expect(done.latest_charge).toMatch(/^ch_/);

      const pi2 = await create();
      await s().paymentIntents.confirm(pi2.id, { return_url: 'https://example.com/return' });
      await t.authenticate('payment_intents', pi2.id, 'fail');
      const failed = await s().paymentIntents.retrieve(pi2.id);
      expect(failed.status).toBe('requires_payment_method');
      expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    });

    it('cancels an open intent and refuses to cancel a succeeded one', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      const open = await s().paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id });
      expect(open.status).toBe('requires_payment_method');
      const canceled = await s().paymentIntents.cancel(open.id, { cancellation_reason: 'abandoned' });
      expect(canceled.status).toBe('canceled');
      const paid = await offSessionCharge(customer.id, pm.id);
      const err = await errorOf(() => s().paymentIntents.cancel(paid.id));
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('payment_intent_unexpected_state');
    });
  });

  describe('refunds', () => {
    it('refunds partially then fully, never beyond the captured amount', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      const pi = await offSessionCharge(customer.id, pm.id);
      const r1 = await s().refunds.create({ payment_intent: pi.id, amount: 300 }, { idempotencyKey: key() });
      expect(r1.id).toMatch(/^re_/);
      expect(r1).toMatchObject({ amount: 300, status: 'succeeded', payment_intent: pi.id });
      const tooLarge = await errorOf(() => s().refunds.create({ payment_intent: pi.id, amount: 800 }));
      expect(tooLarge.statusCode).toBe(400);
      expect(tooLarge.code).toBe('amount_too_large');
      const r2 = await s().refunds.create({ payment_intent: pi.id }, { idempotencyKey: key() });
      expect(r2.amount).toBe(700);
      const again = await errorOf(() => s().refunds.create({ payment_intent: pi.id, amount: 1 }));
      expect(again.statusCode).toBe(400);
      expect(again.code).toBe('charge_already_refunded');
      const charge = await s().charges.retrieve(pi.latest_charge as string);
      expect(charge).toMatchObject({ amount_captured: 1000, amount_refunded: 1000, refunded: true });
      const list = await s().refunds.list({ payment_intent: pi.id });
      expect(list.data.map((r) => r.id).sort()).toEqual([r1.id, r2.id].sort());
      expect((await s().refunds.retrieve(r1.id)).amount).toBe(300);
    });
  });

  describe('refunds that end later (test cards)', () => {
    it('4000 0000 0000 5126 (pm_card_refundFail): the refund answers succeeded, then fails and gives the amount back', async () => {
      const { customer, pm } = await customerWithCard('pm_card_refundFail');
      const pi = await offSessionCharge(customer.id, pm.id);
      expect(pi.status).toBe('succeeded');
      const refund = await s().refunds.create({ payment_intent: pi.id }, { idempotencyKey: key() });
      expect(refund.status).toBe('succeeded');
      const failed = await waitFor(
        async () => {
          const r = await s().refunds.retrieve(refund.id);
          return r.status === 'failed' && r;
        },
        'the refund to fail',
        getTarget().eventsDeadlineMs,
      );
      expect(failed.failure_reason).toEqual(expect.any(String));
      const charge = await s().charges.retrieve(pi.latest_charge as string);
      expect(charge).toMatchObject({ amount_refunded: 0, refunded: false });
      const updated = await waitFor(
        async () => {
          const list = await s().events.list({ type: 'charge.refund.updated', limit: 100 });
          return list.data.find((e) => (e.data.object as Stripe.Refund).id === refund.id);
        },
        'the charge.refund.updated event',
        getTarget().eventsDeadlineMs,
      );
      expect((updated.data.object as Stripe.Refund).status).toBe('failed');
    });
  });

  describe('disputes', () => {
    it('4000 0000 0000 0259 (pm_card_createDispute): the charge succeeds, then is disputed as fraudulent', async () => {
      const { customer, pm } = await customerWithCard('pm_card_createDispute');
      const pi = await offSessionCharge(customer.id, pm.id);
      expect(pi.status).toBe('succeeded');
      const dispute = await waitFor(
        async () => (await s().disputes.list({ payment_intent: pi.id })).data[0],
        'the dispute',
        getTarget().eventsDeadlineMs,
      );
      expect(dispute.id).toMatch(/^dp_/);
      expect(dispute).toMatchObject({
        object: 'dispute',
        charge: pi.latest_charge,
        payment_intent: pi.id,
        amount: 1000,
        currency: 'usd',
        reason: 'fraudulent',
        status: 'needs_response',
      });
      expect((await s().disputes.retrieve(dispute.id)).id).toBe(dispute.id);
      expect((await s().disputes.list({ charge: pi.latest_charge as string })).data.map((d) => d.id)).toEqual(
        [dispute.id],
      );
      expect((await s().charges.retrieve(pi.latest_charge as string)).disputed).toBe(true);
      const created = await waitFor(
        async () => {
          const list = await s().events.list({ type: 'charge.dispute.created', limit: 100 });
          return list.data.find((e) => (e.data.object as Stripe.Dispute).id === dispute.id);
        },
        'the charge.dispute.created event',
        getTarget().eventsDeadlineMs,
      );
      expect((created.data.object as Stripe.Dispute).charge).toBe(pi.latest_charge);
    });
  });

  describe('idempotency', () => {
    it('replays the first response with Idempotent-Replayed, without a second PaymentIntent', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      const k = key();
      const first = await offSessionCharge(customer.id, pm.id, k);
      const second = await offSessionCharge(customer.id, pm.id, k);
      expect(second.id).toBe(first.id);
      expect(headers(first)['idempotent-replayed']).toBeUndefined();
      expect(headers(second)['idempotent-replayed']).toBe('true');
      expect((await s().paymentIntents.list({ customer: customer.id })).data).toHaveLength(1);
      expect((await s().charges.list({ payment_intent: first.id })).data).toHaveLength(1);
    });

    it('replays errors too: a decline replays the same 402 and PaymentIntent', async () => {
      const { customer, si } = await savedViaSetupIntent('pm_card_chargeCustomerFail');
      const k = key();
      const e1 = await errorOf(() => offSessionCharge(customer.id, si.payment_method as string, k));
      const e2 = await errorOf(() => offSessionCharge(customer.id, si.payment_method as string, k));
      expect(e2.statusCode).toBe(402);
      expect((e2.payment_intent as Stripe.PaymentIntent).id).toBe(
        (e1.payment_intent as Stripe.PaymentIntent).id,
      );
      expect(e2.headers?.['idempotent-replayed']).toBe('true');
      const pi = e1.payment_intent as Stripe.PaymentIntent;
      expect((await s().charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
    });

    it('rejects the same key with different parameters (idempotency_error)', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      const k = key();
      await offSessionCharge(customer.id, pm.id, k, 1000);
      const err = await errorOf(() => offSessionCharge(customer.id, pm.id, k, 2000));
      expect(err.statusCode).toBe(400);
      expect(err.type).toBe('StripeIdempotencyError');
      expect(err.rawType).toBe('idempotency_error');
    });
  });

  describe('events', () => {
    it('lists and retrieves the events of a charge', async () => {
      const { customer, pm } = await customerWithCard('pm_card_visa');
      const pi = await offSessionCharge(customer.id, pm.id);
      const event = await waitFor(
        async () => {
          const list = await s().events.list({ type: 'payment_intent.succeeded', limit: 100 });
          return list.data.find((e) => (e.data.object as { id: string }).id === pi.id);
        },
        'the payment_intent.succeeded event',
        getTarget().eventsDeadlineMs,
      );
      expect(event.id).toMatch(/^evt_/);
      const retrieved = await s().events.retrieve(event.id);
      expect(retrieved.type).toBe('payment_intent.succeeded');
      expect((retrieved.data.object as Stripe.PaymentIntent).status).toBe('succeeded');
    });
  });
}
