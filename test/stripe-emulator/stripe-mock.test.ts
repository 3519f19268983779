/**
 * Fidelity check: every request shape the product sends is accepted by Stripe's own stripe-mock (validation
 * against Stripe's OpenAPI spec) and by the emulator. Two sources of shapes: the hand-written sequence in
 * request-shapes.ts (run through the SDK against both), and the emulator's own log of every distinct shape it
 * accepted (`GET /_emulator/shapes`), replayed against stripe-mock so the checked set cannot drift from what is
 * actually sent: this file's emulator, and the test stack's shared emulator (which the product's activities
 * and the other suites talk to) when it answers.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeAt } from '../../src/stripe/client';
import type { RequestShapeRecord } from '../../tools/stripe-emulator/shapes';
import { testConfig } from '../support/config';
import { type EmulatorFixture, errorOf, startEmulatorFixture } from './helpers';
import { requestShapes, type ShapeContext } from './request-shapes';
import { recordedShapes, replayAgainstStripeMock, STRIPE_MOCK_KEY, useStripeMock } from './stripe-mock';

let mock: Awaited<ReturnType<typeof useStripeMock>>;
let fx: EmulatorFixture;

beforeAll(async () => {
  fx = await startEmulatorFixture();
  mock = await useStripeMock();
});

afterAll(async () => {
  mock?.close();
  await fx?.handle.close();
});

describe('request shapes', () => {
  it('stripe-mock accepts every request shape the product sends', async () => {
    const stripe = createStripeAt(mock.url, { apiKey: STRIPE_MOCK_KEY, timeoutMs: 10_000 });
    const ctx: ShapeContext = {};
    const rejected: string[] = [];
    for (const shape of requestShapes) {
      try {
        await shape.run(stripe, ctx);
      } catch (e) {
        rejected.push(`${shape.name}: ${(e as Error).message}`);
      }
    }
    expect(rejected).toEqual([]);
  });

  it('the emulator accepts the same sequence with real semantics', async () => {
    const ctx: ShapeContext = {};
    for (const shape of requestShapes) {
      await expect(shape.run(fx.stripe, ctx), shape.name).resolves.not.toThrow();
    }
    const state = await fx.state();
    expect(state.refunds.map((r) => r.amount).sort((a, b) => a - b)).toEqual([500, 1499]);
  });

  it('stripe-mock rejects an unknown parameter, as the emulator does (the check can fail)', async () => {
    const stripe = createStripeAt(mock.url, { apiKey: STRIPE_MOCK_KEY });
    const bogus = { amount: 1000, currency: 'usd', purchase_id: 'x' } as unknown as Parameters<
      typeof stripe.paymentIntents.create
    >[0];
    // An answered 400, not a refused connection or any other failure.
    const err = await errorOf(() => stripe.paymentIntents.create(bogus));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.statusCode).toBe(400);
    expect(err.rawType).toBe('invalid_request_error');
    const emulated = await errorOf(() => fx.stripe.paymentIntents.create(bogus));
    expect(emulated).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(emulated.statusCode).toBe(400);
    expect(emulated.code).toBe('parameter_unknown');
    expect(emulated.message).toMatch(/unknown parameter: purchase_id/);
  });
});

describe('recorded request shapes', () => {
  it('the emulator records each distinct shape it accepted, not the ones it rejected', async () => {
    const shapes = (await recordedShapes(fx.handle.url)) as RequestShapeRecord[];
    const keys = shapes.map((s) => `${s.method} ${s.route} ${s.params.join('&')}`);
    expect(keys).toContain('GET /v1/payment_intents customer&limit&starting_after');
    expect(keys).toContain('POST /v1/setup_intents/:id/confirm payment_method&return_url');
    expect(keys).toContain('POST /v1/customers email&metadata[*]&name');
    expect(keys).toContain('GET /v1/events limit&starting_after&types[]');
    // the unknown-parameter request of the previous test was rejected before execution: not a shape
    expect(shapes.some((s) => s.params.includes('purchase_id'))).toBe(false);
    expect(new Set(shapes.map((s) => s.key)).size).toBe(shapes.length);
    // kept across a reset (tests reset between cases; the log spans the emulator's life)
    await fx.control('POST', '/_emulator/reset');
    expect(await recordedShapes(fx.handle.url)).toHaveLength(shapes.length);
  });

  it("stripe-mock accepts every shape this file's emulator recorded", async () => {
    const shapes = (await recordedShapes(fx.handle.url)) as RequestShapeRecord[];
    expect(shapes.length).toBeGreaterThan(20);
    expect(await replayAgainstStripeMock(mock.url, shapes)).toEqual([]);
  });

  it('the replay can fail: stripe-mock rejects a shape with an unknown parameter', async () => {
    const bogus: RequestShapeRecord = {
      key: 'POST /v1/payment_intents amount&currency&purchase_id',
      method: 'POST',
      route: '/v1/payment_intents',
      params: ['amount', 'currency', 'purchase_id'],
      apiVersion: 'any',
      example: { path: '/v1/payment_intents', encoded: 'amount=1000&currency=usd&purchase_id=x' },
      count: 1,
    };
    const rejected = await replayAgainstStripeMock(mock.url, [bogus]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/: 400 .*invalid_request_error/);
  });

  it("stripe-mock accepts every shape the test stack's shared emulator recorded so far", async (t) => {
    const config = testConfig();
    if (config.stripeIsReal) t.skip('the test stack talks to real Stripe, not the emulator');
    let shapes: RequestShapeRecord[] | null;
    try {
      shapes = await recordedShapes(config.stripeEmulatorUrl);
    } catch (e) {
      t.skip(`the shared emulator at ${config.stripeEmulatorUrl} does not answer: ${(e as Error).message}`);
      return;
    }
    if (shapes === null) {
      console.warn(
        `The shared emulator at ${config.stripeEmulatorUrl} has no shape log (started from older code; restart it): its shapes are not checked.`,
      );
      t.skip('the shared emulator has no shape log (restart it)');
      return;
    }
    expect(await replayAgainstStripeMock(mock.url, shapes)).toEqual([]);
  });
});
