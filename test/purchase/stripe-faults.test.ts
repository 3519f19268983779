import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

// A private emulator: faults are armed for "the next N matching requests", which must be ours.
let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

const chargeRequests = { method: 'POST', path: '/v1/payment_intents' } as const;

/** How many attempts the charge activity took, from the workflow history. */
async function chargeAttempts(handle: Awaited<ReturnType<PurchaseEnv['buy']>>['handle']): Promise<number> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeOffSession',
  );
  const started = events.find(
    (e) =>
      e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
  );
  return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
}

/** The purchase completed with exactly one PaymentIntent, one successful charge and one credit. */
async function expectChargedOnce(purchaseId: string, shopper: Awaited<ReturnType<PurchaseEnv['shopper']>>) {
  const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
  expect(stripe.paymentIntents).toHaveLength(1);
  expect(stripe.paymentIntents[0]?._emulator.creates).toBe(1);
  expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
  expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
}

describe('Stripe failing under the charge', () => {
  it('a response lost after the charge took effect → retried with the same key, one charge', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    // Twice: stripe-node silently re-sends once on a reset connection; the second loss reaches the activity.
    await emulatorControl(env.emulatorUrl).fault({
      match: chargeRequests,
      times: 2,
      action: { type: 'drop_after' },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    expect(await chargeAttempts(handle)).toBe(2);
    await expectChargedOnce(purchaseId, shopper);
    const state = await emulatorControl(env.emulatorUrl).state();
    const keyed = (
      state as unknown as { requests: { path: string; idempotencyKey?: string; replayed?: boolean }[] }
    ).requests.filter((r) => r.path === '/v1/payment_intents' && r.idempotencyKey === `${purchaseId}:charge`);
    expect(keyed.length).toBeGreaterThanOrEqual(3);
    expect(keyed.some((r) => r.replayed)).toBe(true);
  });

  it('a connection dropped before the charge took effect → retried, one charge', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: chargeRequests,
      times: 2,
      action: { type: 'drop_before' },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    await expectChargedOnce(purchaseId, shopper);
  });

  it('a burst of 500s → retried with backoff, one charge', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: chargeRequests,
      times: 2,
      action: { type: 'status', status: 500 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    expect(await chargeAttempts(handle)).toBe(3);
    await expectChargedOnce(purchaseId, shopper);
  });

  it('429s with Retry-After → retried after the server-given delay, one charge', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: chargeRequests,
      times: 2,
      action: { type: 'status', status: 429, retryAfterSeconds: 1 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    expect(await chargeAttempts(handle)).toBe(3);
    await expectChargedOnce(purchaseId, shopper);
    // The failed attempts carried the server's delay to Temporal.
    const history = await handle.fetchHistory();
    const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes?.lastFailure) ?? [];
    const lastFailure = started.at(-1)?.activityTaskStartedEventAttributes?.lastFailure;
    expect(lastFailure?.applicationFailureInfo?.type).toBe('StripeRateLimited');
    expect(Number(lastFailure?.applicationFailureInfo?.nextRetryDelay?.seconds ?? 0)).toBe(1);
  });

  it('a 500 Stripe stored under the charge key → looked up, none there, charged once under :charge:2', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    // Stored: every retry with that key gets the same 500 for as long as the key lives.
    await emulatorControl(env.emulatorUrl).fault({
      match: chargeRequests,
      times: 1,
      action: { type: 'stored_error', status: 500 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    await expectChargedOnce(purchaseId, shopper);
    const state = (await emulatorControl(env.emulatorUrl).state()) as unknown as {
      requests: { path: string; idempotencyKey?: string; status?: number | null }[];
    };
    const keys = state.requests
      .filter((r) => r.path === '/v1/payment_intents' && r.idempotencyKey?.startsWith(`${purchaseId}:charge`))
      .map((r) => `${r.idempotencyKey?.slice(purchaseId.length)} ${r.status}`);
    // The first 500 is retried as any 500; its replay (Idempotent-Replayed) shows it stored.
    expect(keys).toEqual([':charge 500', ':charge 500', ':charge:2 200']);
  });
});

describe('Stripe failing while a recorded card is attached', () => {
  it('an outage (503) keeps the recorded card: retried, attached, charged once', async () => {
    const shopper = await env.shopper({ recordedCard: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'POST', pathRegex: '^/v1/payment_methods/[^/]+/attach$' },
      times: 1,
      action: { type: 'status', status: 503 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    await expectChargedOnce(purchaseId, shopper);
    const [row] = await env.sql<{ pm: string | null }[]>`
      select default_payment_method_id as pm from customers where id = ${shopper.customerId}`;
    expect(row?.pm).toBe('pm_card_visa');
  });
});
