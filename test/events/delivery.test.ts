// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify as sdkVerify } from '../../packages/sdk/src/webhooks';
import { eventDeliveryWorkflowId, eventTypes } from '../../src/domain/events';
import { constructEvent, verifySignature } from '../../src/events/signature';
import { newWorld, ok } from '../catalog/helpers';
import { waitFor } from '../support/wait';
import { type EventsHarness, eventsHarness, type TestReceiver, testReceiver } from './support';

/**
 * Events and their delivery to webhook endpoints (docs/api.md, "Events and webhook endpoints"), all real:
 * purchases run by the test worker against the Stripe emulator, the database trigger records the
 * events, the dispatcher starts one delivery workflow per event and endpoint on the deliveries' own
 * task queue, and a receiver of this file takes them: failing, timing out and answering 500 before it
 * accepts. The retry base delay is 200 ms here, so the schedule runs fast.
 */

let h: EventsHarness;
const receivers: TestReceiver[] = [];
beforeAll(async () => {
  h = await eventsHarness({ retryBaseMs: 200 });
});
afterAll(async () => {
  await h?.close();
  for (const r of receivers) await r.close();
});

async function receiver(plan?: Parameters<typeof testReceiver>[0]) {
  const r = await testReceiver(plan);
  receivers.push(r);
  return r;
}

const eventsOf = async (purchaseId: string): Promise<any[]> =>
  ok(h.app, 'GET', `/v1/events?purchaseId=${purchaseId}`, { token: h.world.apiKey });

async function deliveryRows(endpointId: string) {
  return h.env.sql<{ event_id: string; status: string; attempts: number; last_error: string | null }[]>`
    select event_id, status, attempts, last_error from event_deliveries where endpoint_id = ${endpointId}`;
}

describe('webhook endpoints', () => {
  it('creates (secret shown once, all types by default), lists without the secret, deletes', async () => {
    const world = await newWorld(h.app);
    h.organizationIds.push(world.orgId);
    const created = await h.endpoint('http://127.0.0.1:9/hook', undefined, world.apiKey);
    expect(created).toMatchObject({ url: 'http://127.0.0.1:9/hook', events: [...eventTypes] });
    expect(created.id).toMatch(/^we_[A-Za-z0-9]{8,64}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    const filtered = await h.endpoint('https://example.com/x', ['purchase.failed'], world.apiKey);
    expect(filtered.events).toEqual(['purchase.failed']);

    const list = await ok(h.app, 'GET', '/v1/webhook-endpoints', { token: world.apiKey });
    expect(list).toEqual([
      { id: created.id, url: created.url, events: created.events, createdAt: created.createdAt },
      { id: filtered.id, url: filtered.url, events: ['purchase.failed'], createdAt: filtered.createdAt },
    ]);
    // Another organization sees none of them and cannot delete them.
    expect(await ok(h.app, 'GET', '/v1/webhook-endpoints', { token: h.world.apiKey })).not.toContainEqual(
      expect.objectContaining({ id: created.id }),
    );
    const foreign = await h.admin('DELETE', `/v1/webhook-endpoints/${created.id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('webhook_endpoint_not_found');

    const deleted = await h.admin('DELETE', `/v1/webhook-endpoints/${created.id}`, undefined, world.apiKey);
    expect(deleted).toMatchObject({
      status: 200,
      body: { success: true, data: { id: created.id, deleted: true } },
    });
    const again = await h.admin('DELETE', `/v1/webhook-endpoints/${created.id}`, undefined, world.apiKey);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('webhook_endpoint_not_found');
    expect(
      (await ok(h.app, 'GET', '/v1/webhook-endpoints', { token: world.apiKey })).map((e: any) => e.id),
    ).toEqual([filtered.id]);
  });

  it('refuses bad input with 400 validation_failed', async () => {
    const cases: [string, unknown][] = [
      ['no url', {}],
      ['relative url', { url: '/hook' }],
      ['not http', { url: 'ftp://example.com/hook' }],
      ['credentials in the url', { url: 'https://user:pw@example.com/hook' }],
      ['too long', { url: `https://example.com/${'a'.repeat(2048)}` }],
      ['unknown type', { url: 'https://example.com/hook', events: ['purchase.teleported'] }],
      ['empty list', { url: 'https://example.com/hook', events: [] }],
      [
        'duplicate types',
        { url: 'https://example.com/hook', events: ['purchase.failed', 'purchase.failed'] },
      ],
      ['unknown field', { url: 'https://example.com/hook', enabled: true }],
    ];
    for (const [what, body] of cases) {
      const res = await h.admin('POST', '/v1/webhook-endpoints', body);
      expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({
        what,
        status: 400,
        code: 'validation_failed',
      });
    }
    for (const url of ['/v1/webhook-endpoints/nope', '/v1/webhook-endpoints/we_short']) {
      const res = await h.admin('DELETE', url);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    for (const query of [
      'type=purchase.nope',
      'limit=0',
      'limit=501',
      'purchaseId=cus_123456789',
      'other=1',
    ]) {
      const res = await h.admin('GET', `/v1/events?${query}`);
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({
        query,
        status: 400,
        code: 'validation_failed',
      });
    }
    const noKey = await h.admin('GET', '/v1/events', undefined, 'orgkey_wrong');
    expect(noKey.status).toBe(401);
  });
});

describe('events and their delivery', () => {
  it('records each transition once, and delivers every event signed, through failures, timeouts and 500s', async () => {
    // The first event seen: dropped, then 500, then no answer (the 10 s timeout), then accepted. The
    // others: 500, dropped, accepted.
    let first: string | null = null;
    const r = await receiver((event, attempt) => {
      first ??= event.id;
      const script: string[] =
        event.id === first ? ['drop', 'error500', 'stall', 'accept'] : ['error500', 'drop', 'accept'];
      return (script[attempt - 1] ?? 'accept') as any;
    });
    const endpoint = await h.endpoint(r.url);

    // Four purchases, four paths: completed; declined; no card, then canceled; 3-D Secure, then canceled.
    const completedBuyer = await h.customer({ card: 'pm_card_visa' });
    const completed = (await h.checkout(completedBuyer)).body.data.id as string;
    const declinedBuyer = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const declined = (await h.checkout(declinedBuyer)).body.data.id as string;
    const cardless = await h.customer();
    const waiting = (await h.checkout(cardless)).body.data.id as string;
    const secureBuyer = await h.customer({ card: 'pm_card_authenticationRequired' });
    const secure = (await h.checkout(secureBuyer)).body.data.id as string;
    await h.purchaseReaches(completedBuyer, completed, 'completed');
    await h.purchaseReaches(declinedBuyer, declined, 'failed');
    await h.purchaseReaches(cardless, waiting, 'awaiting_payment_method');
    await h.purchaseReaches(secureBuyer, secure, 'requires_action');
    for (const [who, id] of [
      [cardless, waiting],
      [secureBuyer, secure],
    ] as const) {
      const res = await ok(h.app, 'POST', `/v1/portal/purchases/${id}/cancel`, {
        token: who.token,
        status: 200,
      });
      expect(res.status).toBe('canceled');
    }

    const expected: Record<string, string[]> = {
      [completed]: ['purchase.completed'],
      [declined]: ['purchase.failed'],
      [waiting]: ['purchase.awaiting_payment_method', 'purchase.canceled'],
      [secure]: ['purchase.requires_action', 'purchase.canceled'],
    };
    // Listed: exactly its events, newest first, each with the purchase right after the transition.
    const listed = new Map<string, any>();
    for (const [purchaseId, types] of Object.entries(expected)) {
      const events = await eventsOf(purchaseId);
      expect(events.map((e) => e.type)).toEqual([...types].reverse());
      for (const e of events) {
        expect(e.id).toMatch(/^evt_/);
        expect(e.data.purchase).toMatchObject({ id: purchaseId, status: e.type.slice('purchase.'.length) });
        expect(e.data.purchase.customerId).toMatch(/^cus_/);
        listed.set(e.id, e);
      }
    }
    const completedEvent = (await eventsOf(completed))[0];
    expect(completedEvent.data.purchase).toEqual(
      await ok(h.app, 'GET', `/v1/purchases/${completed}`, { token: h.world.apiKey }),
    );

    // Delivered: every listed event, accepted once each in the end, exactly as listed.
    const accepted = await waitFor(
      () => (r.accepted().size >= listed.size ? r.accepted() : null),
      'every event to be accepted',
      60_000,
    );
    expect(new Set(accepted.keys())).toEqual(new Set(listed.keys()));
    for (const [id, event] of accepted) expect(event).toEqual(listed.get(id));
    const byPurchase = new Map<string, string[]>();
    for (const event of accepted.values()) {
      const list = byPurchase.get(event.data.purchase.id) ?? [];
      list.push(event.type);
      byPurchase.set(event.data.purchase.id, list);
    }
    for (const [purchaseId, types] of Object.entries(expected)) {
      expect([...(byPurchase.get(purchaseId) ?? [])].sort()).toEqual([...types].sort());
    }

    // Every request signed with the endpoint's secret (our helper and the SDK's agree); a tampered body
    // or another secret does not verify.
    for (const request of r.received) {
      expect(verifySignature(request.rawBody, request.signature, endpoint.secret)).toBe(true);
      expect(sdkVerify(request.rawBody, request.signature, endpoint.secret)).toBe(true);
      expect(constructEvent(request.rawBody, request.signature, endpoint.secret)).toEqual(request.event);
      expect(request.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(`${request.rawBody} `, request.signature, endpoint.secret)).toBe(false);
      expect(verifySignature(request.rawBody, request.signature, 'whsec_other')).toBe(false);
    }
    // The script ran: the first event took four attempts (one a 10 s timeout), the others three.
    const attemptsOf = (id: string) => r.received.filter((x) => x.event.id === id).map((x) => x.move);
    expect(attemptsOf(first!)).toEqual(['drop', 'error500', 'stall', 'accept']);
    for (const id of listed.keys())
      if (id !== first) expect(attemptsOf(id)).toEqual(['error500', 'drop', 'accept']);
    const rows = await waitFor(async () => {
      const found = await deliveryRows(endpoint.id);
      return found.length === listed.size && found.every((d) => d.status === 'delivered') ? found : null;
    }, 'the deliveries to be recorded delivered');
    const firstRow = rows.find((d) => d.event_id === first);
    expect(firstRow).toMatchObject({ attempts: 4 });
    // One workflow per event and endpoint, completed, visible under its derived id.
    const handle = h.client.workflow.getHandle(eventDeliveryWorkflowId(first!, endpoint.id));
    expect(await handle.result()).toBe('delivered');
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.taskQueue).toBe(h.config.EVENT_DELIVERY_TASK_QUEUE);
    await h.admin('DELETE', `/v1/webhook-endpoints/${endpoint.id}`);
  }, 120_000);

  it('records a partial refund, a dispute and a full refund after completion, each once', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const purchaseId = (await h.checkout(who)).body.data.id as string;
    await h.purchaseReaches(who, purchaseId, 'completed');
    const refund = (amount: number) =>
      ok(h.app, 'POST', `/v1/purchases/${purchaseId}/refunds`, {
        token: h.world.apiKey,
        body: { amount },
        headers: { 'idempotency-key': `events-${purchaseId}-${amount}` },
        status: 202,
      });
    await refund(1000);
    await refund(3000);
    await waitFor(
      async () => (await eventsOf(purchaseId))[0]?.type === 'purchase.refunded',
      'the purchase refunded',
    );
    const events = await eventsOf(purchaseId);
    expect(events.map((e) => e.type)).toEqual([
      'purchase.refunded',
      'purchase.partially_refunded',
      'purchase.completed',
    ]);
    expect(events[1].data.purchase).toMatchObject({ status: 'completed', refundedAmount: 1000 });
    expect(events[0].data.purchase).toMatchObject({ status: 'refunded', refundedAmount: 4000 });

    // A dispute opened on a completed purchase's charge (the emulator's control, after completion).
    const disputer = await h.customer({ card: 'pm_card_visa' });
    const disputed = (await h.checkout(disputer)).body.data.id as string;
    await h.purchaseReaches(disputer, disputed, 'completed');
    const [row] = await h.env.sql<{ pi: string }[]>`
      select stripe_payment_intent_id as pi from purchases where id = ${disputed}`;
    const charge = (await h.env.stripe.paymentIntents.retrieve(row!.pi)).latest_charge as string;
    await h.emulator('POST', `/charges/${charge}/dispute`, {});
    const disputedEvents = await waitFor(async () => {
      const list = await eventsOf(disputed);
      return list.some((e) => e.type === 'purchase.disputed') ? list : null;
    }, 'the dispute event');
    expect(disputedEvents.map((e) => e.type)).toEqual(['purchase.disputed', 'purchase.completed']);
    expect(disputedEvents[0].data.purchase.dispute).toMatchObject({ status: 'open' });
  });

  it('sends an endpoint only the types it listed; GET /v1/events filters by type', async () => {
    const r = await receiver();
    const onlyFailed = await h.endpoint(r.url, ['purchase.failed']);
    const ok1 = await h.customer({ card: 'pm_card_visa' });
    const good = (await h.checkout(ok1)).body.data.id as string;
    const bad1 = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const bad = (await h.checkout(bad1)).body.data.id as string;
    await h.purchaseReaches(ok1, good, 'completed');
    await h.purchaseReaches(bad1, bad, 'failed');
    const failedEvent = (await eventsOf(bad))[0];
    await waitFor(() => r.accepted().has(failedEvent.id), 'the failed event to arrive');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...r.accepted().values()].map((e) => e.type)).toEqual(['purchase.failed']);

    const failedOnly = await ok(h.app, 'GET', '/v1/events?type=purchase.failed&limit=500', {
      token: h.world.apiKey,
    });
    expect(failedOnly.length).toBeGreaterThan(0);
    expect(failedOnly.every((e: any) => e.type === 'purchase.failed')).toBe(true);
    expect(failedOnly.map((e: any) => e.id)).toContain(failedEvent.id);
    const limited = await ok(h.app, 'GET', '/v1/events?limit=1', { token: h.world.apiKey });
    expect(limited).toHaveLength(1);
    await h.admin('DELETE', `/v1/webhook-endpoints/${onlyFailed.id}`);
  });

  it('deleting an endpoint stops its pending deliveries', async () => {
    const r = await receiver(() => 'error500');
    const endpoint = await h.endpoint(r.url, ['purchase.completed']);
    const who = await h.customer({ card: 'pm_card_visa' });
    const purchaseId = (await h.checkout(who)).body.data.id as string;
    await h.purchaseReaches(who, purchaseId, 'completed');
    const [event] = await eventsOf(purchaseId);
    await waitFor(() => r.received.filter((x) => x.event.id === event.id).length >= 2, 'two failed attempts');
    await ok(h.app, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`, { token: h.world.apiKey });
    const handle = h.client.workflow.getHandle(eventDeliveryWorkflowId(event.id, endpoint.id));
    await waitFor(
      async () => (await handle.describe()).status.name === 'CANCELLED',
      'the delivery to be canceled',
    );
    const count = r.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(r.received.length).toBe(count);
    expect((await deliveryRows(endpoint.id))[0]).toMatchObject({ status: 'canceled' });
  });

  it('a delivery survives its worker: stopped mid-retry, a new worker delivers it', async () => {
    let accepting = false;
    const r = await receiver(() => (accepting ? 'accept' : 'error500'));
    const endpoint = await h.endpoint(r.url, ['purchase.completed']);
    const who = await h.customer({ card: 'pm_card_visa' });
    const purchaseId = (await h.checkout(who)).body.data.id as string;
    await h.purchaseReaches(who, purchaseId, 'completed');
    const [event] = await eventsOf(purchaseId);
    await waitFor(() => r.received.some((x) => x.event.id === event.id), 'a first failed attempt');
    await h.restartDeliveryWorker(async () => {
      accepting = true;
    });
    await waitFor(() => r.accepted().has(event.id), 'the event to be delivered by the new worker', 30_000);
    // The attempt is recorded after the endpoint's answer arrives: the row follows the receiver shortly.
    const row = await waitFor(async () => {
      const [found] = await deliveryRows(endpoint.id);
      return found?.status === 'delivered' ? found : null;
    }, 'the delivery to be recorded delivered');
    expect(row).toMatchObject({ status: 'delivered' });
    expect(row!.attempts).toBeGreaterThanOrEqual(2);
    await h.admin('DELETE', `/v1/webhook-endpoints/${endpoint.id}`);
  });
});
