/**
 * `npm run bench -- [--purchases N] [--concurrency C] [--quantity Q]`: how fast purchases go through
 * the real stack (test profile: Temporal dev server in memory, Postgres, the Stripe emulator) with one
 * worker made by the project's own factory. Every purchase is a card-on-file checkout, run to
 * `completed`. Prints throughput and latency percentiles (checkout call → workflow result); asserts
 * nothing — the tests do that. The stack is brought up if needed and only what this run started is
 * stopped.
 */
import { parseArgs } from 'node:util';
import { testConfig } from '../test/support/config';
import { purchaseEnv, type Shopper } from '../test/support/purchase-env';
import { stackDown, stackUp } from './stack/stack';

const { values } = parseArgs({
  options: {
    purchases: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '10' },
    quantity: { type: 'string', default: '1' },
  },
});
const purchases = positive('purchases', values.purchases);
const concurrency = positive('concurrency', values.concurrency);
const quantity = positive('quantity', values.quantity);

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 10_000) {
    console.error(`--${name} must be a whole number from 1 to 10000 (got ${raw})`);
    process.exit(2);
  }
  return value;
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

const config = testConfig();
const log = (line: string) => console.log(`[stack:test] ${line}`);
const started = await stackUp(config, log);
const env = await purchaseEnv();
try {
  // Shoppers are prepared up front (one per concurrent lane) so only purchases are timed.
  const shoppers: Shopper[] = [];
  for (let i = 0; i < concurrency; i += 1) shoppers.push(await env.shopper({ card: 'pm_card_visa' }));
  // Warm-up: one purchase, so bundle loading and first connections are not in the figures.
  await (await env.buy(shoppers[0] as Shopper)).handle.result();

  const latenciesMs: number[] = [];
  const outcomes = new Map<string, number>();
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    shoppers.map(async (shopper) => {
      while (next < purchases) {
        next += 1;
        const t0 = performance.now();
        const { handle } = await env.buy(shopper, { quantity });
        const result = await handle.result();
        latenciesMs.push(performance.now() - t0);
        outcomes.set(result.status, (outcomes.get(result.status) ?? 0) + 1);
      }
    }),
  );
  const elapsedS = (performance.now() - startedAt) / 1000;
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  console.log(
    `purchases            ${latenciesMs.length} (concurrency ${concurrency}, quantity ${quantity})`,
  );
  console.log(`outcomes             ${[...outcomes].map(([status, n]) => `${status} ${n}`).join(', ')}`);
  console.log(`elapsed              ${elapsedS.toFixed(2)} s`);
  console.log(`throughput           ${(latenciesMs.length / elapsedS).toFixed(2)} purchases/s`);
  console.log(
    `latency ms           p50 ${percentile(sorted, 50).toFixed(0)}  p95 ${percentile(sorted, 95).toFixed(0)}  p99 ${percentile(sorted, 99).toFixed(0)}  max ${(sorted.at(-1) ?? 0).toFixed(0)}`,
  );
} finally {
  await env.close();
  await stackDown(config, () => {}, started);
}
