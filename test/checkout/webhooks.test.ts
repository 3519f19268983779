// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/portal/app';
import { signPayload } from '../../tools/stripe-emulator/index';
import { insertPurchase } from '../catalog/helpers';
import { stripeRecordsOf } from '../support/emulator-control';
import { waitFor } from '../support/wait';
import { type PortalCustomer, type PortalHarness, portalHarness } from './harness';

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness({ cardWaitTimeoutMs: 60_000, authenticationWaitTimeoutMs: 60_000 });
});
afterAll(() => h?.close());

const eventId = () => `evt_test${randomUUID().replace(/-/g, '')}`;

/** A Stripe event as Stripe sends it (pretty-printed JSON). */
function eventBody(type: string, object: Record<string, unknown>, id = eventId()): string {
  return JSON.stringify(
    {
      id,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object },
    },
    null,
    2,
  );
}

/** A purchase of a customer without a card, waiting for one: its id and SetupIntent id. */
async function waitingForCard(): Promise<{ who: PortalCustomer; purchaseId: string; setupIntentId: string }> {
  const who = await h.customer({ plan: 'free' });
  const res = await h.checkout(who);
  expect(res.status).toBe(202);
  const purchase = await h.purchaseReaches(who, res.body.data.id, 'awaiting_payment_method');
  const setupIntentId = (purchase.nextAction.clientSecret as string).split('_secret_')[0]!;
  return { who, purchaseId: purchase.id, setupIntentId };
}

async function emulatorEvents(filter: (event: any) => boolean): Promise<any[]> {
  const state = await h.emulator('GET', '/state');
  return (state.events as any[]).filter(filter);
}

describe('POST /v1/stripe/webhooks: signature on the raw body', () => {
  it('rejects forged, stale, tampered and unsigned events with 400, recording and changing nothing', async () => {
    const { who, purchaseId, setupIntentId } = await waitingForCard();
    // The customer adds a card on Stripe, but Stripe's own webhook is held back: only our deliveries arrive.
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    try {
      await h.confirmSetupIntentOnStripe(setupIntentId, '4242424242424242');
      const object = {
        id: setupIntentId,
        object: 'setup_intent',
        status: 'succeeded',
        metadata: { purchase_id: purchaseId, organization_id: h.world.orgId },
      };
      const body = eventBody('setup_intent.succeeded', object);
      const id = JSON.parse(body).id as string;
      const now = Math.floor(Date.now() / 1000);
      const forged = `t=${now},v1=${'0'.repeat(64)}`;
      const wrongSecret = signPayload(body, 'whsec_forged', now);
      const attempts: [string, string, string | null][] = [
        ['forged signature', body, forged],
        ['signed with another secret', body, wrongSecret],
        ['stale (10 minutes old)', body, h.sign(body, now - 600)],
        ['tampered body', body.replace('"livemode": false', '"livemode": true'), h.sign(body)],
        ['no signature', body, null],
        ['garbage header', body, 'nonsense'],
        ['signed, but not JSON', 'not json', h.sign('not json')],
      ];
      for (const [what, sent, signature] of attempts) {
        const res = await h.postWebhook(sent, signature);
        expect(res.status, what).toBe(400);
        expect(res.body, what).toEqual({
          success: false,
          error: { code: 'validation_failed', message: expect.any(String) },
        });
      }
      expect(await h.stripeEvents({ ids: [id] })).toEqual([]);
      expect(await h.signalsOf(purchaseId)).toEqual([]);
      expect((await h.env.row(purchaseId)).status).toBe('awaiting_payment_method');

      // The same event, properly signed, is applied: the purchase continues.
      const good = await h.postWebhook(body, h.sign(body));
      expect(good.status).toBe(200);
      expect(good.body.data).toEqual({ received: true, eventId: id, duplicate: false, outcome: 'signaled' });
      await h.purchaseReaches(who, purchaseId, 'completed');
      expect(await h.signalsOf(purchaseId)).toEqual(['paymentMethodAdded']);
    } finally {
      await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
  });
});

describe('the purchase fed by Stripe webhooks', () => {
  it('completes a no-card purchase through setup_intent.succeeded (emulator → receiver → workflow)', async () => {
    const { who, purchaseId, setupIntentId } = await waitingForCard();
    // What Stripe.js does in the browser: a PaymentMethod from the card number, then confirm the SetupIntent.
    const confirmed = await h.confirmSetupIntentOnStripe(setupIntentId, '4242424242424242');
    expect(confirmed.status).toBe('succeeded');

    const done = await h.purchaseReaches(who, purchaseId, 'completed');
    expect(done.failure).toBeNull();
    const recorded = await h.stripeEvents({ purchaseId });
    expect(recorded.filter((e) => e.type === 'setup_intent.succeeded')).toEqual([
      expect.objectContaining({ outcome: 'signaled', deliveries: 1, purchase_id: purchaseId }),
    ]);
    expect(await h.signalsOf(purchaseId)).toEqual(['paymentMethodAdded']);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect((await h.env.row(purchaseId)).status).toBe('completed');
  });

  it('completes a 3-D Secure purchase through payment_intent.succeeded', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const res = await h.checkout(who);
    const waiting = await h.purchaseReaches(who, res.body.data.id, 'requires_action');
    const paymentIntentId = (waiting.nextAction.clientSecret as string).split('_secret_')[0]!;

    // The off-session attempt's payment_intent.payment_failed (authentication_required) is no outcome.
    const offSession = await waitFor(async () => {
      const [event] = await emulatorEvents(
        (e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === paymentIntentId,
      );
      const [row] = event ? await h.stripeEvents({ ids: [event.id] }) : [];
      return row;
    }, 'the off-session failure event to be recorded');
    expect(offSession.outcome).toBe('ignored');
    expect((await h.env.row(waiting.id)).status).toBe('requires_action');

    // The customer authenticates on-session (what Stripe.js confirmCardPayment does).
    const paymentIntent = await h.env.stripe.paymentIntents.retrieve(paymentIntentId);
    const card = paymentIntent.last_payment_error?.payment_method;
    const confirmed = await h.env.stripe.paymentIntents.confirm(paymentIntentId, {
      payment_method: typeof card === 'string' ? card : card!.id,
    });
    expect(confirmed.status).toBe('requires_action');
    await h.emulator('POST', `/payment_intents/${paymentIntentId}/authenticate`, { outcome: 'succeed' });

    await h.purchaseReaches(who, waiting.id, 'completed');
    const recorded = await h.stripeEvents({ purchaseId: waiting.id });
    expect(recorded.filter((e) => e.type === 'payment_intent.succeeded')).toEqual([
      expect.objectContaining({ outcome: 'signaled' }),
    ]);
    expect(await h.signalsOf(waiting.id)).toContain('paymentOutcome');
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, waiting.id);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
  });

  it('fails a 3-D Secure purchase whose authentication fails (payment_intent.payment_failed)', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const res = await h.checkout(who);
    const waiting = await h.purchaseReaches(who, res.body.data.id, 'requires_action');
    const paymentIntentId = (waiting.nextAction.clientSecret as string).split('_secret_')[0]!;
    const auth = await fetch(`${h.url}/v1/portal/test-mode/payment-intents/${paymentIntentId}/authenticate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'fail' }),
    });
    expect(auth.status).toBe(200);
    const failed = await h.purchaseReaches(who, waiting.id, 'failed');
    expect(failed.failure.code).toBe('authentication_failed');
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, waiting.id);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(0);
  });

  it('applies duplicated and reordered deliveries once', async () => {
    const { who, purchaseId, setupIntentId } = await waitingForCard();
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    let released = false;
    try {
      await h.confirmSetupIntentOnStripe(setupIntentId, '4242424242424242');
      const withheld = await h.emulator('GET', '/webhooks');
      expect(withheld.withheld.length).toBeGreaterThanOrEqual(2);
      // Stripe's order reversed: setup_intent.succeeded arrives after or before the rest, never in order.
      await h.emulator('POST', '/webhooks/release', { order: 'reverse' });
      released = true;
    } finally {
      if (!released) await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
    await h.purchaseReaches(who, purchaseId, 'completed');
    const [succeeded] = await emulatorEvents(
      (e) => e.type === 'setup_intent.succeeded' && e.data.object.id === setupIntentId,
    );
    // Stripe delivers it again, twice, and once more at the same moment as our own copy.
    await h.emulator('POST', '/webhooks/resend', { eventId: succeeded.id });
    await h.emulator('POST', '/webhooks/resend', { eventId: succeeded.id });
    await waitFor(async () => {
      const [row] = await h.stripeEvents({ ids: [succeeded.id] });
      return row && row.deliveries >= 3 ? row : null;
    }, 'the duplicates to be acknowledged');
    const body = JSON.stringify(succeeded, null, 2);
    const copies = await Promise.all([1, 2, 3].map(() => h.postWebhook(body, h.sign(body))));
    expect(copies.map((c) => [c.status, c.body.data.duplicate])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);

    const [row] = await h.stripeEvents({ ids: [succeeded.id] });
    expect(row).toMatchObject({ outcome: 'signaled', deliveries: 6, purchase_id: purchaseId });
    expect(await h.signalsOf(purchaseId)).toEqual(['paymentMethodAdded']);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    const [{ count }] = (await h.env.sql`
      select count(*)::int as count from credit_ledger where purchase_id = ${purchaseId}`) as any;
    expect(count).toBe(1);
  });

  it('records a concurrent first delivery once: one applies it, the others are duplicates', async () => {
    const body = eventBody('customer.updated', { id: 'cus_whatever', object: 'customer', metadata: {} });
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => h.postWebhook(body, h.sign(body))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.data.duplicate === false)).toHaveLength(1);
    const [row] = await h.stripeEvents({ ids: [JSON.parse(body).id] });
    expect(row).toMatchObject({ outcome: 'ignored', deliveries: 5 });
  });
});

describe('payment-intent events out of order (3-D Secure)', () => {
  it('an outcome before requires_action is recorded, not applied; reversed deliveries apply once; completes once', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    // Every Stripe delivery of this purchase is held back, and the off-session charge request is
    // stalled, so the purchase sits in `charging` for a moment.
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    let released = false;
    try {
      await h.emulator('POST', '/faults', {
        match: { method: 'POST', path: '/v1/payment_intents' },
        times: 1,
        action: { type: 'stall', ms: 4_000 },
      });
      // Not awaited yet: the checkout's answer waits while the purchase is busy.
      const answer = h.checkout(who);
      const purchaseId = await waitFor(async () => {
        const [row] = await h.env.sql<{ id: string; status: string }[]>`
          select id, status from purchases where customer_id = ${who.id}`;
        return row?.status === 'charging' ? row.id : null;
      }, 'the purchase to be charging');

      // A payment_intent.succeeded naming this purchase arrives while it is still being charged (before
      // requires_action): recorded and acknowledged, not passed on.
      const early = eventBody('payment_intent.succeeded', {
        id: `pi_early${randomUUID().replace(/-/g, '').slice(0, 16)}`,
        object: 'payment_intent',
        status: 'succeeded',
        metadata: { purchase_id: purchaseId, organization_id: h.world.orgId },
      });
      const earlyAnswer = await h.postWebhook(early, h.sign(early));
      expect(earlyAnswer.status).toBe(200);
      expect(earlyAnswer.body.data).toMatchObject({ duplicate: false, outcome: 'ignored' });
      expect(await h.stripeEvents({ ids: [JSON.parse(early).id] })).toEqual([
        expect.objectContaining({ outcome: 'ignored', purchase_id: purchaseId, deliveries: 1 }),
      ]);

      const res = await answer;
      expect(res.status).toBe(202);
      expect(res.body.data.id).toBe(purchaseId);
      const waiting = await h.purchaseReaches(who, purchaseId, 'requires_action');
      const paymentIntentId = (waiting.nextAction.clientSecret as string).split('_secret_')[0]!;
      expect(await h.signalsOf(purchaseId)).toEqual([]);

      // The customer authenticates on-session; Stripe's events queue up behind the withhold.
      const paymentIntent = await h.env.stripe.paymentIntents.retrieve(paymentIntentId);
      const card = paymentIntent.last_payment_error?.payment_method;
      await h.env.stripe.paymentIntents.confirm(paymentIntentId, {
        payment_method: typeof card === 'string' ? card : card!.id,
      });
      await h.emulator('POST', `/payment_intents/${paymentIntentId}/authenticate`, { outcome: 'succeed' });
      const piEvents = await emulatorEvents((e) => e.data?.object?.id === paymentIntentId);
      const piEventIds = new Set(piEvents.map((e) => e.id as string));
      const withheld = (await h.emulator('GET', '/webhooks')).withheld as { eventId: string; type: string }[];
      const queued = withheld.filter((d) => piEventIds.has(d.eventId)).map((d) => d.type);
      expect(queued).toEqual(
        expect.arrayContaining([
          'payment_intent.requires_action',
          'payment_intent.payment_failed',
          'payment_intent.succeeded',
        ]),
      );
      expect(queued.indexOf('payment_intent.succeeded')).toBeGreaterThan(
        queued.indexOf('payment_intent.requires_action'),
      );

      // Delivered newest first: the outcome before the events that led to it.
      await h.emulator('POST', '/webhooks/release', { order: 'reverse' });
      released = true;
      await h.purchaseReaches(who, purchaseId, 'completed');
      // Every payment-intent event is recorded once; only the outcome was passed on.
      const recorded = await waitFor(async () => {
        const rows = await h.stripeEvents({ ids: [...piEventIds] });
        return rows.length === piEventIds.size ? rows : null;
      }, 'every payment-intent event to be recorded');
      const byType = (type: string) => recorded.filter((r) => r.type === type).map((r) => r.outcome);
      expect(byType('payment_intent.succeeded')).toEqual(['signaled']);
      expect(byType('payment_intent.requires_action')).toEqual(['ignored']);
      expect(byType('payment_intent.payment_failed')).toEqual(['ignored']);
      expect(recorded.every((r) => r.deliveries === 1)).toBe(true);

      // Stripe delivers the outcome again: acknowledged as a duplicate, not re-applied.
      const [succeeded] = await emulatorEvents(
        (e) => e.type === 'payment_intent.succeeded' && e.data.object.id === paymentIntentId,
      );
      const body = JSON.stringify(succeeded, null, 2);
      const again = await h.postWebhook(body, h.sign(body));
      expect(again.body.data).toMatchObject({ duplicate: true });

      expect(await h.signalsOf(purchaseId)).toEqual(['paymentOutcome']);
      expect((await h.env.row(purchaseId)).status).toBe('completed');
      const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
      expect(stripe.paymentIntents).toHaveLength(1);
      expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
      expect(stripe.refunds).toHaveLength(0);
      const [{ count }] = (await h.env.sql`
        select count(*)::int as count from credit_ledger where purchase_id = ${purchaseId}`) as any;
      expect(count).toBe(1);
      const balance = await h.env.sql<{ purchased: number }[]>`
        select coalesce(sum(credits), 0)::int as purchased from credit_ledger
         where customer_id = ${who.id} and bucket = 'purchased'`;
      expect(balance[0]!.purchased).toBe(500);
    } finally {
      await h.emulator('DELETE', '/faults');
      if (!released) await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
  });
});

describe('POST /v1/stripe/webhooks: body size limit', () => {
  it('refuses an oversized body with 413, recording nothing, even when well signed', async () => {
    const id = eventId();
    const body = eventBody(
      'customer.updated',
      { id: 'cus_big', object: 'customer', metadata: {}, padding: 'x'.repeat(1_100_000) },
      id,
    );
    expect(body.length).toBeGreaterThan(1024 * 1024);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/stripe/webhooks',
      headers: { 'content-type': 'application/json', 'stripe-signature': h.sign(body) },
      payload: body,
    });
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(res.body)).toEqual({
      success: false,
      error: { code: 'payload_too_large', message: expect.any(String) },
    });
    expect(await h.stripeEvents({ ids: [id] })).toEqual([]);

    // Just under the limit, the same kind of event is taken.
    const fits = eventBody('customer.updated', {
      id: 'cus_big',
      object: 'customer',
      metadata: {},
      padding: 'x'.repeat(900_000),
    });
    const ok = await h.postWebhook(fits, h.sign(fits));
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ duplicate: false, outcome: 'ignored' });
  });
});

describe('well-signed events the receiver cannot apply are acknowledged, recorded, never 5xx', () => {
  it('unknown types, unmatched objects, settled purchases and closed workflows', async () => {
    const unknown = eventBody('invoice.paid', { id: 'in_123', object: 'invoice' });
    const unmatched = eventBody('setup_intent.succeeded', {
      id: 'seti_nobodyknowsthis',
      object: 'setup_intent',
      metadata: { purchase_id: 'pur_doesnotexist1234', organization_id: 'org_nope12345678' },
    });
    const noMetadata = eventBody('payment_intent.succeeded', {
      id: 'pi_unknown123',
      object: 'payment_intent',
    });

    // A settled purchase: an old event for it changes nothing.
    const who = await h.customer({ card: 'pm_card_visa' });
    const res = await h.checkout(who);
    const completed = await h.purchaseReaches(who, res.body.data.id, 'completed');
    const paymentIntentId = (await h.env.row(completed.id)).stripe_payment_intent_id!;
    const late = eventBody('payment_intent.payment_failed', {
      id: paymentIntentId,
      object: 'payment_intent',
      metadata: {},
      last_payment_error: { code: 'card_declined' },
    });

    // A purchase whose row is open but whose workflow does not exist (or closed).
    const orphan = await insertPurchase(h.env.sql, {
      orgId: h.world.orgId,
      customerId: who.id,
      pack: { id: h.pack.id, credits: 500, price: 4000 },
    });
    const closed = eventBody('setup_intent.succeeded', {
      id: 'seti_orphan123',
      object: 'setup_intent',
      metadata: { purchase_id: orphan, organization_id: h.world.orgId },
    });
    // Metadata naming a purchase of another organization is not trusted.
    const otherOrg = eventBody('setup_intent.succeeded', {
      id: 'seti_otherorg123',
      object: 'setup_intent',
      metadata: { purchase_id: orphan, organization_id: 'org_someoneelse123' },
    });

    const expected: [string, string, string | null][] = [
      [unknown, 'ignored', null],
      [unmatched, 'unmatched', null],
      [noMetadata, 'unmatched', null],
      [late, 'purchase_settled', completed.id],
      [closed, 'workflow_closed', orphan],
      [otherOrg, 'unmatched', null],
    ];
    for (const [body, outcome, purchaseId] of expected) {
      const answer = await h.postWebhook(body, h.sign(body));
      expect(answer.status, outcome).toBe(200);
      expect(answer.body.data).toMatchObject({ duplicate: false, outcome });
      const [row] = await h.stripeEvents({ ids: [JSON.parse(body).id] });
      expect(row).toMatchObject({ outcome, purchase_id: purchaseId, deliveries: 1 });
    }
    expect((await h.env.row(completed.id)).status).toBe('completed');
  });

  it('answers 503 and records nothing when Temporal cannot take the signal, so Stripe’s retry applies it', async () => {
    const { who, purchaseId, setupIntentId } = await waitingForCard();
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    try {
      await h.confirmSetupIntentOnStripe(setupIntentId, '4242424242424242');
      // A portal whose Temporal is unreachable (nothing listens on that port).
      const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
      const down = await buildApp({
        config: h.env.config,
        sql: h.env.sql,
        logger: false,
        temporal: new Client({ connection }),
        stripe: h.env.stripe,
      });
      const body = eventBody('setup_intent.succeeded', {
        id: setupIntentId,
        object: 'setup_intent',
        metadata: { purchase_id: purchaseId, organization_id: h.world.orgId },
      });
      try {
        const res = await down.inject({
          method: 'POST',
          url: '/v1/stripe/webhooks',
          headers: { 'content-type': 'application/json', 'stripe-signature': h.sign(body) },
          payload: body,
        });
        expect(res.statusCode).toBe(503);
        expect(JSON.parse(res.body).error.code).toBe('service_unavailable');
      } finally {
        await down.close();
        await connection.close().catch(() => {});
      }
      expect(await h.stripeEvents({ ids: [JSON.parse(body).id] })).toEqual([]);
      // Stripe retries: this time the portal's Temporal is up.
      const retry = await h.postWebhook(body, h.sign(body));
      expect(retry.body.data).toMatchObject({ duplicate: false, outcome: 'signaled' });
      await h.purchaseReaches(who, purchaseId, 'completed');
    } finally {
      await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
  });
});
