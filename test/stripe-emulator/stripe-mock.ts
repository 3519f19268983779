/**
 * Stripe's own stripe-mock for the fidelity checks: the test stack's (STRIPE_MOCK_URL, or the test profile's
 * STRIPE_MOCK_PORT), or, when none answers, the built binary started on a free port. Plus the replay of the
 * request shapes an emulator recorded (`GET /_emulator/shapes`) against it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestShapeRecord } from '../../tools/stripe-emulator/shapes';
import { testConfig } from '../support/config';
import { freePort } from '../support/ports';
import { waitFor } from './helpers';

const STRIPE_MOCK_BIN = join(import.meta.dirname, '..', '..', '.stack', 'tools', 'bin', 'stripe-mock');
export const STRIPE_MOCK_KEY = 'sk_test_123';

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/customers`, {
      headers: { authorization: `Bearer ${STRIPE_MOCK_KEY}` },
      signal: AbortSignal.timeout(1_000),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** A stripe-mock to talk to; `close()` stops it only when this call started it. */
export async function useStripeMock(): Promise<{ url: string; close(): void }> {
  const candidates = [process.env.STRIPE_MOCK_URL, testConfig().stripeMockUrl].filter(
    (u): u is string => !!u,
  );
  for (const url of candidates) {
    if (await answers(url)) return { url, close: () => undefined };
  }
  if (!existsSync(STRIPE_MOCK_BIN))
    throw new Error(`no stripe-mock running and none built at ${STRIPE_MOCK_BIN}`);
  const port = await freePort();
  const child: ChildProcess = spawn(STRIPE_MOCK_BIN, ['-http-addr', `127.0.0.1:${port}`], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => answers(url), 'stripe-mock to answer', 15_000);
  return { url, close: () => child.kill('SIGTERM') };
}

/** The request shapes an emulator recorded; null when it has no shape log (an emulator started from older code). */
export async function recordedShapes(emulatorUrl: string): Promise<RequestShapeRecord[] | null> {
  const res = await fetch(`${emulatorUrl}/_emulator/shapes`, { signal: AbortSignal.timeout(5_000) });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${emulatorUrl}/_emulator/shapes answered ${res.status}`);
  return ((await res.json()) as { shapes: RequestShapeRecord[] }).shapes;
}

/**
 * Sends each shape's recorded example request to stripe-mock exactly as the SDK encoded it, and returns one
 * line per shape stripe-mock rejected (any non-2xx answer, or no answer).
 */
export async function replayAgainstStripeMock(
  mockUrl: string,
  shapes: RequestShapeRecord[],
): Promise<string[]> {
  const rejected: string[] = [];
  for (const shape of shapes) {
    const { path, encoded } = shape.example;
    const hasBody = shape.method === 'POST';
    const url = `${mockUrl}${path}${!hasBody && encoded ? `?${encoded}` : ''}`;
    try {
      const res = await fetch(url, {
        method: shape.method,
        headers: {
          authorization: `Bearer ${STRIPE_MOCK_KEY}`,
          ...(hasBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: hasBody ? encoded : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (!res.ok) rejected.push(`${shape.key}: ${res.status} ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
    } catch (e) {
      rejected.push(`${shape.key}: ${(e as Error).message}`);
    }
  }
  return rejected;
}
