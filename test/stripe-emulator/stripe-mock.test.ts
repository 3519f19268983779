/**
 * Fidelity check: every request shape the product sends is accepted by Stripe's own stripe-mock (validation
 * against Stripe's OpenAPI spec) and by the emulator. stripe-mock comes from the test stack (STRIPE_MOCK_URL,
 * or the test profile's STRIPE_MOCK_PORT); when none answers, the test starts the binary itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeAt } from '../../src/stripe/client';
import { testConfig } from '../support/config';
import { type EmulatorFixture, startEmulatorFixture, waitFor } from './helpers';
import { requestShapes, type ShapeContext } from './request-shapes';

const STRIPE_MOCK_BIN = join(import.meta.dirname, '..', '..', '.stack', 'tools', 'bin', 'stripe-mock');

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/customers`, {
      headers: { authorization: 'Bearer sk_test_123' },
      signal: AbortSignal.timeout(1_000),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

let mockUrl: string;
let child: ChildProcess | undefined;
let fx: EmulatorFixture;

beforeAll(async () => {
  fx = await startEmulatorFixture();
  const candidates = [process.env.STRIPE_MOCK_URL, testConfig().stripeMockUrl].filter(
    (u): u is string => !!u,
  );
  for (const url of candidates) {
    if (await answers(url)) {
      mockUrl = url;
      return;
    }
  }
  if (!existsSync(STRIPE_MOCK_BIN))
    throw new Error(`no stripe-mock running and none built at ${STRIPE_MOCK_BIN}`);
  const port = await freePort();
  child = spawn(STRIPE_MOCK_BIN, ['-http-addr', `127.0.0.1:${port}`], { stdio: 'ignore' });
  mockUrl = `http://127.0.0.1:${port}`;
  await waitFor(() => answers(mockUrl), 'stripe-mock to answer', 15_000);
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await fx?.handle.close();
});

describe('request shapes', () => {
  it('stripe-mock accepts every request shape the product sends', async () => {
    const stripe = createStripeAt(mockUrl, { apiKey: 'sk_test_123', timeoutMs: 10_000 });
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
    const stripe = createStripeAt(mockUrl, { apiKey: 'sk_test_123' });
    const bogus = { amount: 1000, currency: 'usd', purchase_id: 'x' } as unknown as Parameters<
      typeof stripe.paymentIntents.create
    >[0];
    await expect(stripe.paymentIntents.create(bogus)).rejects.toThrow();
    await expect(fx.stripe.paymentIntents.create(bogus)).rejects.toThrow(/unknown parameter: purchase_id/);
  });
});
