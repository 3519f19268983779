/**
 * Emulator-only: chaos for soaks (tools/stripe-emulator/chaos.ts): faults that strike a share of the
 * requests from a seeded generator (5xx answered before anything happens and not stored under the key,
 * answers dropped after the effect, stored 500s), their counters, and webhooks duplicated and delayed
 * (and so reordered) at random.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../tools/stripe-emulator/chaos';
import {
  type EmulatorFixture,
  errorOf,
  startEmulatorFixture,
  startWebhookReceiver,
  type WebhookReceiver,
  waitFor,
} from './helpers';

let fx: EmulatorFixture;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  fx = await startEmulatorFixture({ webhookUrls: [receiver.url], webhookRetryBaseMs: 20 });
});
afterAll(async () => {
  await fx?.handle.close();
  await receiver?.close();
});
beforeEach(async () => {
  await fx.control('POST', '/_emulator/reset');
  receiver.received.length = 0;
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the control API
const chaosState = () => fx.control('GET', '/_emulator/chaos') as Promise<any>;

async function customers(n: number): Promise<{ ok: number; failed: { status?: number; type?: string }[] }> {
  let ok = 0;
  const failed: { status?: number; type?: string }[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await fx.stripe.customers.create({ email: `c${i}@example.com` }, { idempotencyKey: `k-${i}` });
      ok++;
    } catch (e) {
      const err = e as { statusCode?: number; type?: string };
      failed.push({ status: err.statusCode, type: err.type });
    }
  }
  return { ok, failed };
}

describe('seeded generator', () => {
  it('the same seed draws the same sequence, another seed another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const seqA = Array.from({ length: 20 }, () => a());
    expect(Array.from({ length: 20 }, () => b())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c())).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('API chaos', () => {
  it('a 5xx rule strikes about its rate, answered before executing and not stored under the key', async () => {
    await fx.control('POST', '/_emulator/chaos', {
      seed: 7,
      rules: [{ name: '5xx', match: { method: 'POST' }, rate: 0.3, action: { type: 'status', status: 503 } }],
    });
    const { ok, failed } = await customers(200);
    const state = await chaosState();
    expect(state.counters.requests).toBe(200);
    expect(state.counters.injected['5xx']).toBe(failed.length);
    expect(failed.length).toBeGreaterThan(35); // 30 % of 200 = 60, give or take
    expect(failed.length).toBeLessThan(85);
    expect(failed.every((f) => f.status === 503)).toBe(true);
    // Nothing happened for the struck ones, and their keys are free: the same key now executes.
    const dump = await fx.state();
    expect(dump.customers).toHaveLength(ok);
    await fx.control('DELETE', '/_emulator/chaos');
    const again = await customers(200); // the same keys k-0…k-199
    expect(again.failed).toHaveLength(0);
    expect((await fx.state()).customers).toHaveLength(200);
    // Off: counters stay readable, nothing more counted.
    expect((await chaosState()).counters.requests).toBe(200);
  });

  it('the same seed and requests inject the same faults', async () => {
    const pattern = async (seed: number) => {
      await fx.control('POST', '/_emulator/reset');
      await fx.control('POST', '/_emulator/chaos', {
        seed,
        rules: [{ match: {}, rate: 0.5, action: { type: 'status', status: 500 } }],
      });
      const out: boolean[] = [];
      for (let i = 0; i < 30; i++) {
        out.push(
          await fx.stripe.customers.create({}, { idempotencyKey: randomUUID() }).then(
            () => true,
            () => false,
          ),
        );
      }
      return out;
    };
    const first = await pattern(11);
    expect(await pattern(11)).toEqual(first);
    expect(await pattern(12)).not.toEqual(first);
  });

  it('rules are exclusive: drop_after takes effect and is stored, stored_error is replayed, counted apart', async () => {
    await fx.control('POST', '/_emulator/chaos', {
      seed: 3,
      rules: [
        { name: 'drop', match: { path: '/v1/customers' }, rate: 0.4, action: { type: 'drop_after' } },
        { name: 'stored', match: { path: '/v1/customers' }, rate: 0.4, action: { type: 'stored_error' } },
      ],
    });
    const keys = Array.from({ length: 40 }, (_, i) => `c-${i}`);
    const outcomes: string[] = [];
    for (const key of keys) {
      const err = await errorOf(() => fx.stripe.customers.create({}, { idempotencyKey: key })).catch(
        () => null,
      );
      outcomes.push(err === null ? 'ok' : err.type === 'StripeConnectionError' ? 'dropped' : 'stored');
    }
    const state = await chaosState();
    // stripe-node retries a reset connection once on its own (a replay under the key, drawn again), so a
    // call is one or two requests; a request is struck by one rule at most.
    const injected = state.counters.injected as Record<string, number>;
    expect(state.counters.requests).toBeGreaterThanOrEqual(40);
    expect(injected.drop).toBeGreaterThan(5);
    expect(injected.stored).toBeGreaterThan(5);
    expect((injected.drop ?? 0) + (injected.stored ?? 0)).toBeLessThan(state.counters.requests);
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain('dropped');
    expect(outcomes).toContain('stored');
    await fx.control('DELETE', '/_emulator/chaos');
    // Replayed under their keys with chaos off: the dropped ones made their customer, the stored 500s none.
    let made = 0;
    for (const [i, key] of keys.entries()) {
      const err = await errorOf(() => fx.stripe.customers.create({}, { idempotencyKey: key })).catch(
        () => null,
      );
      if (outcomes[i] === 'stored') expect(err?.statusCode).toBe(500);
      else {
        expect(err).toBeNull();
        made++;
      }
    }
    expect((await fx.state()).customers).toHaveLength(made);
  });

  it('an unknown action or a rate above 1 is refused', async () => {
    const bad = await fetch(`${fx.handle.url}/_emulator/chaos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ match: {}, rate: 1.5, action: { type: 'status', status: 500 } }] }),
    });
    expect(bad.status).toBe(400);
    expect((await chaosState()).settings).toBeNull();
  });
});

describe('webhook chaos', () => {
  it('duplicates and delays deliveries at their rates, reordering them, each event still delivered', async () => {
    await fx.control('POST', '/_emulator/chaos', {
      seed: 5,
      webhooks: { duplicateRate: 0.5, delayRate: 0.5, maxDelayMs: 300 },
    });
    const made: string[] = [];
    for (let i = 0; i < 30; i++) made.push((await fx.stripe.customers.create({})).id);
    const counters = await waitFor(async () => {
      const s = await chaosState();
      const w = s.counters.webhooks;
      return receiver.ofType('customer.created').length === 30 + w.duplicated ? w : false;
    }, 'every delivery and its duplicates');
    expect(counters.events).toBe(30);
    expect(counters.duplicated).toBeGreaterThan(5);
    expect(counters.duplicated).toBeLessThan(25);
    expect(counters.delayed).toBeGreaterThan(5);
    expect(counters.reordered).toBeGreaterThan(0);
    const delivered = receiver.ofType('customer.created').map((r) => r.event.data.object.id);
    expect(new Set(delivered)).toEqual(new Set(made));
    // Out of creation order as received.
    const firsts = [...new Set(delivered)];
    expect(firsts).not.toEqual(made);
  });
});
