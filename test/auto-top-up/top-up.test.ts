import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAutoTopUp, saveAutoTopUp } from '../../src/db/auto-top-up';
import { updateSubscription } from '../../src/db/billing';
import { archiveCreditPack } from '../../src/db/credit-packs';
import { requestBodyHash } from '../../src/db/idempotency';
import type { PurchaseRow } from '../../src/db/purchases';
import { recordUsage } from '../../src/db/usage';
import { utcMonth } from '../../src/domain/auto-top-up';
import { purchaseWorkflowExists, refundPurchase, startOrphanedPurchases } from '../../src/purchases';
import { startTopUp, topUpContext } from '../../src/purchases/auto-top-up';
import { purchaseWorkflowId } from '../../src/workflows';
import {
  AutoTopUpPausedKey,
  CustomerIdKey,
  PurchaseTriggerKey,
} from '../../src/workflows/purchase/search-attributes';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv, type Shopper } from '../support/purchase-env';
import { waitFor } from '../support/wait';

/**
 * Auto top-ups run for real: the purchase workflow on a worker, the Stripe emulator, Postgres. Usage
 * and saved settings go through the same database functions as the routes, with the clock passed in
 * (so the monthly limit crosses a month boundary without waiting for one).
 */
let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

const quiet = { info: () => {}, error: () => {} };
const ids = (who: Shopper) => ({ organizationId: who.organizationId, customerId: who.customerId });

/** Saves the settings as PUT does (threshold 100, the shopper's pack, a wide limit unless given). */
async function save(
  who: Shopper,
  settings: Partial<{ enabled: boolean; thresholdCredits: number; monthlyLimit: number }> = {},
  now = new Date(),
) {
  const { autoTopUp, topUp } = await saveAutoTopUp(
    env.sql,
    ids(who),
    {
      enabled: true,
      thresholdCredits: 100,
      creditPackId: who.packId,
      quantity: 1,
      monthlyLimit: 1_000_000,
      ...settings,
    },
    { ...topUpContext(now), maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
  );
  await startTopUp({ temporal: env.temporal.client, config: env.config, log: quiet }, topUp);
  return { autoTopUp, topUp };
}

/** Uses credits as POST /v1/customers/{id}/usage does; returns the top-up it started, if any. */
async function use(
  who: Shopper,
  credits: number,
  now = new Date(),
  temporal: Client | null = env.temporal.client,
) {
  const { statusCode, topUp } = await recordUsage(
    env.sql,
    {
      ...ids(who),
      credits,
      idempotencyKey: randomUUID(),
      requestPath: `/v1/customers/${who.customerId}/usage`,
      requestHash: requestBodyHash({ credits }),
    },
    topUpContext(now),
  );
  expect(statusCode).toBe(200);
  await startTopUp({ temporal, config: env.config, log: quiet }, topUp);
  return topUp;
}

/** The top-up's workflow result (its final state). */
function settled(topUp: PurchaseRow | null) {
  if (!topUp) throw new Error('no top-up was started');
  return env.temporal.client.workflow.getHandle(purchaseWorkflowId(topUp.id)).result();
}

const topUpsOf = (who: Shopper) =>
  env.sql<{ id: string; status: string; failure_code: string | null }[]>`
    select id, status, failure_code from purchases
     where customer_id = ${who.customerId} and trigger = 'auto_top_up' order by created_at`;

const pausedEvents = (who: Shopper) =>
  env.sql<{ data: { customerId: string; autoTopUp: Record<string, unknown> } }[]>`
    select data from events where customer_id = ${who.customerId} and type = 'auto_top_up.paused' order by seq`;

const settingsOf = (who: Shopper, now = new Date()) => getAutoTopUp(env.sql, ids(who), now);

const total = async (who: Shopper) => {
  const { purchased, plan } = await env.balance(who);
  return purchased + plan;
};

/** Makes `card` (a test PaymentMethod) the Stripe default of the shopper: another card on file. */
async function replaceCard(who: Shopper, card: string) {
  if (!who.stripeCustomerId) throw new Error('shopper has no Stripe customer');
  const pm = await env.stripe.paymentMethods.attach(card, { customer: who.stripeCustomerId });
  await env.stripe.customers.update(who.stripeCustomerId, {
    invoice_settings: { default_payment_method: pm.id },
  });
}

describe('auto top-up', () => {
  it('a PUT below the threshold tops up off-session with the card on file; usage below it tops up again', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    const { topUp, autoTopUp } = await save(who);
    expect(autoTopUp).toMatchObject({ state: 'active', pausedReason: null });
    expect((await settled(topUp)).status).toBe('completed');
    expect(await total(who)).toBe(500);
    const [pi] = (await stripeRecordsOf(env.emulatorUrl, topUp?.id ?? '')).paymentIntents;
    expect(pi).toMatchObject({ status: 'succeeded', amount: 4000, customer: who.stripeCustomerId });
    const described = await env.temporal.client.workflow
      .getHandle(purchaseWorkflowId(topUp?.id ?? ''))
      .describe();
    expect(described.typedSearchAttributes.get(PurchaseTriggerKey)).toBe('auto_top_up');
    expect(described.typedSearchAttributes.get(AutoTopUpPausedKey)).toBeUndefined();

    expect(await use(who, 300)).toBeNull(); // 200 ≥ 100
    const second = await use(who, 150); // 50 < 100
    expect((await settled(second)).status).toBe('completed');
    expect(await total(who)).toBe(550);
    expect((await topUpsOf(who)).map((t) => t.status)).toEqual(['completed', 'completed']);
    const [row] = await env.sql<{ trigger: string; idempotency_key: string }[]>`
      select trigger, idempotency_key from purchases where id = ${second?.id ?? ''}`;
    expect(row).toEqual({ trigger: 'auto_top_up', idempotency_key: 'auto_top_up:2' });
  });

  it('20 parallel usages crossing the threshold start exactly one top-up, which completes', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(who, { thresholdCredits: 1 })).topUp); // 500 credits
    await save(who, { thresholdCredits: 490 });
    const started = await Promise.all(Array.from({ length: 20 }, () => use(who, 20)));
    const topUps = started.filter((t) => t !== null);
    expect(topUps).toHaveLength(1);
    expect((await settled(topUps[0] ?? null)).status).toBe('completed');
    expect((await topUpsOf(who)).map((t) => t.status)).toEqual(['completed', 'completed']);
    expect(await total(who)).toBe(500 - 400 + 500);
  });

  it('three declines in a row pause it (card_declined, one event); a PUT resumes it and counts again', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(who)).topUp); // 500 credits on the good card
    await replaceCard(who, 'pm_card_chargeCustomerFail');

    for (const credits of [450, 10, 10]) {
      const result = await settled(await use(who, credits));
      expect(result).toMatchObject({ status: 'failed', failure: { code: 'card_declined' } });
    }
    expect(await settingsOf(who)).toMatchObject({ state: 'paused', pausedReason: 'card_declined' });
    expect(await use(who, 10)).toBeNull(); // paused: nothing starts
    expect((await topUpsOf(who)).map((t) => t.status)).toEqual(['completed', 'failed', 'failed', 'failed']);
    const events = await pausedEvents(who);
    expect(events.map((e) => e.data)).toEqual([
      {
        customerId: who.customerId,
        autoTopUp: {
          enabled: true,
          thresholdCredits: 100,
          creditPackId: who.packId,
          quantity: 1,
          monthlyLimit: 1_000_000,
          state: 'paused',
          pausedReason: 'card_declined',
        },
      },
    ]);

    // A PUT resumes it (count reset): the total (20) is below 100, so a top-up starts at once; one
    // decline does not pause it again.
    const { autoTopUp, topUp } = await save(who);
    expect(autoTopUp).toMatchObject({ state: 'active', pausedReason: null });
    expect((await settled(topUp)).failure?.code).toBe('card_declined');
    expect(await settingsOf(who)).toMatchObject({ state: 'active' });
    expect(await pausedEvents(who)).toHaveLength(1);
  });

  it('a top-up that needs 3-D Secure does not wait: its PaymentIntent is canceled, failed authentication_required, paused', async () => {
    const who = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const began = Date.now();
    const { topUp } = await save(who);
    const result = await settled(topUp);
    expect(Date.now() - began).toBeLessThan(env.config.AUTHENTICATION_WAIT_TIMEOUT_MS);
    expect(result).toMatchObject({
      status: 'failed',
      nextAction: null,
      failure: { code: 'authentication_required' },
    });
    const transitions = await env.sql<{ to_status: string }[]>`
      select to_status from purchase_transitions where purchase_id = ${topUp?.id ?? ''} order by id`;
    expect(transitions.map((t) => t.to_status)).not.toContain('requires_action');
    const stripe = await stripeRecordsOf(env.emulatorUrl, topUp?.id ?? '');
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(await total(who)).toBe(0);
    expect(await settingsOf(who)).toMatchObject({ state: 'paused', pausedReason: 'authentication_required' });
    expect((await pausedEvents(who)).map((e) => e.data.autoTopUp.pausedReason)).toEqual([
      'authentication_required',
    ]);

    // An operator finds it in the Temporal UI: a top-up (trigger) whose end paused the auto top-up.
    const described = await env.temporal.client.workflow
      .getHandle(purchaseWorkflowId(topUp?.id ?? ''))
      .describe();
    expect(described.typedSearchAttributes.get(PurchaseTriggerKey)).toBe('auto_top_up');
    expect(described.typedSearchAttributes.get(AutoTopUpPausedKey)).toBe('authentication_required');
    const query = `${PurchaseTriggerKey.name} = 'auto_top_up' AND ${AutoTopUpPausedKey.name} IS NOT NULL AND ${CustomerIdKey.name} = '${who.customerId}'`;
    const found = await waitFor(async () => {
      const ids: string[] = [];
      for await (const execution of env.temporal.client.workflow.list({ query }))
        ids.push(execution.workflowId);
      return ids.length > 0 ? ids : null;
    }, 'the paused top-up to be listed by its search attributes');
    expect(found).toEqual([purchaseWorkflowId(topUp?.id ?? '')]);
  });

  it('no card on file, or the card removed in Stripe: failed no_payment_method (no card is asked for), paused', async () => {
    const none = await env.shopper();
    const first = await settled((await save(none)).topUp);
    expect(first).toMatchObject({
      status: 'failed',
      setupIntentId: null,
      failure: { code: 'no_payment_method' },
    });
    expect(await settingsOf(none)).toMatchObject({ state: 'paused', pausedReason: 'no_payment_method' });

    const removed = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(removed)).topUp); // 500 credits
    const stripeCustomer = await env.stripe.customers.retrieve(removed.stripeCustomerId ?? '');
    const card = 'deleted' in stripeCustomer ? null : stripeCustomer.invoice_settings.default_payment_method;
    await env.stripe.paymentMethods.detach(String(card));
    await env.stripe.customers.update(removed.stripeCustomerId ?? '', {
      invoice_settings: { default_payment_method: '' },
    });
    const result = await settled(await use(removed, 450));
    expect(result).toMatchObject({ status: 'failed', failure: { code: 'no_payment_method' } });
    expect(await settingsOf(removed)).toMatchObject({ state: 'paused', pausedReason: 'no_payment_method' });
    expect(await total(removed)).toBe(50);
  });

  it('a pack archived, or a subscription past due, pauses it with its reason and starts nothing', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(who)).topUp); // 500 credits
    await archiveCreditPack(env.sql, who.organizationId, who.packId);
    expect(await use(who, 450)).toBeNull();
    expect(await settingsOf(who)).toMatchObject({ state: 'paused', pausedReason: 'pack_unavailable' });
    expect(await topUpsOf(who)).toHaveLength(1);

    const pastDue = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(pastDue)).topUp);
    const [sub] = await env.sql<
      { id: string }[]
    >`select id from subscriptions where customer_id = ${pastDue.customerId}`;
    await updateSubscription(env.sql, pastDue.organizationId, sub?.id ?? '', { status: 'past_due' });
    expect(await use(pastDue, 450)).toBeNull();
    expect(await settingsOf(pastDue)).toMatchObject({ state: 'paused', pausedReason: 'not_eligible' });

    // Archived after the top-up was recorded, before its workflow ran: the workflow finds it ineligible.
    const late = await env.shopper({ card: 'pm_card_visa' });
    const recorded = await saveAutoTopUp(
      env.sql,
      ids(late),
      { enabled: true, thresholdCredits: 100, creditPackId: late.packId, quantity: 1, monthlyLimit: 100_000 },
      { ...topUpContext(), maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
    );
    await archiveCreditPack(env.sql, late.organizationId, late.packId);
    await startTopUp({ temporal: env.temporal.client, config: env.config, log: quiet }, recorded.topUp);
    expect(await settled(recorded.topUp)).toMatchObject({ status: 'ineligible' });
    expect(await settingsOf(late)).toMatchObject({ state: 'paused', pausedReason: 'pack_unavailable' });
    expect((await pausedEvents(late)).map((e) => e.data.autoTopUp.pausedReason)).toEqual([
      'pack_unavailable',
    ]);
  });

  it('the monthly limit pauses it until the 1st (UTC), then it tops up again (injected clock)', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    const month = utcMonth(new Date());
    const lastSecond = new Date(month.end.getTime() - 1000);
    const nextMonth = new Date(month.end.getTime() + 1000);
    await settled((await save(who, { monthlyLimit: 6000 })).topUp); // 4000 of 6000 this month

    expect(await use(who, 450, lastSecond)).toBeNull(); // 4000 + 4000 > 6000
    expect(await settingsOf(who, lastSecond)).toMatchObject({
      state: 'paused',
      pausedReason: 'monthly_limit',
    });
    expect(await use(who, 10, lastSecond)).toBeNull();
    expect(await pausedEvents(who)).toHaveLength(1);

    expect(await settingsOf(who, nextMonth)).toMatchObject({ state: 'active', pausedReason: null });
    // On the 1st it resumes by itself: the worker's sweep records and starts the top-up, no usage needed.
    const { started } = await startOrphanedPurchases(
      { sql: env.sql, client: env.temporal.client, config: env.config },
      { olderThanMs: 60_000, organizationId: who.organizationId, now: nextMonth },
    );
    expect(started).toHaveLength(1);
    const [, resumed] = await topUpsOf(who);
    expect(started).toEqual([resumed?.id]);
    const result = await env.temporal.client.workflow
      .getHandle(purchaseWorkflowId(resumed?.id ?? ''))
      .result();
    expect(result.status).toBe('completed');
    expect(await total(who)).toBe(40 + 500);
    expect(await settingsOf(who, nextMonth)).toMatchObject({ state: 'active' });
    expect(await use(who, 10, nextMonth)).toBeNull(); // 530 ≥ 100
  });

  it("a refund taking credits back below the threshold records a top-up, which the customer's workflow starts", async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    const { topUp: first } = await save(who);
    await settled(first); // 500
    await use(who, 100); // 400 ≥ 100
    const { statusCode } = await refundPurchase(
      { sql: env.sql, temporal: env.temporal.client, config: env.config },
      {
        organizationId: who.organizationId,
        purchaseId: first?.id ?? '',
        amountCents: 2000, // half: 250 credits back, 150 left… still ≥ 100
        reason: null,
        idempotencyKey: randomUUID(),
        requestPath: 'test',
        requestHash: requestBodyHash({ amount: 2000 }),
      },
      { log: quiet },
    );
    expect(statusCode).toBe(202);
    expect(await topUpsOf(who)).toHaveLength(1);
    await refundPurchase(
      { sql: env.sql, temporal: env.temporal.client, config: env.config },
      {
        organizationId: who.organizationId,
        purchaseId: first?.id ?? '',
        amountCents: 2000, // the rest: 250 more back, -100 left
        reason: null,
        idempotencyKey: randomUUID(),
        requestPath: 'test',
        requestHash: requestBodyHash({ amount: 2000, rest: true }),
      },
      { log: quiet },
    );
    const [, recorded] = await topUpsOf(who);
    expect(recorded).toBeDefined();
    // No sweep: the refund's after-commit signal has the customer's auto top-up workflow start it.
    await waitFor(
      () => purchaseWorkflowExists(env.temporal.client, recorded?.id ?? ''),
      'the top-up recorded by the reversal to start',
      5_000,
    );
    const result = await env.temporal.client.workflow
      .getHandle(purchaseWorkflowId(recorded?.id ?? ''))
      .result();
    expect(result.status).toBe('completed');
    expect(await total(who)).toBe(-100 + 500);
  });

  it('a threshold crossed while Temporal is unreachable: the usage stands, the sweep starts the top-up later', async () => {
    const who = await env.shopper({ card: 'pm_card_visa' });
    await settled((await save(who)).topUp);
    const down = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const topUp = await use(who, 450, new Date(), down);
    expect(topUp).not.toBeNull();
    expect(await purchaseWorkflowExists(env.temporal.client, topUp?.id ?? '')).toBe(false);
    expect(await total(who)).toBe(50);

    const { started } = await startOrphanedPurchases(
      { sql: env.sql, client: env.temporal.client, config: env.config },
      { olderThanMs: 0, organizationId: who.organizationId },
    );
    expect(started).toEqual([topUp?.id]);
    expect((await settled(topUp)).status).toBe('completed');
    expect(await total(who)).toBe(550);
  });
});
