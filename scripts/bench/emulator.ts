/**
 * `npm run bench:emulator -- [--small 1000] [--large 100000] [--purchases 300] [--warmup 300]`: the Stripe
 * emulator's request latency with `--small` objects in its account against `--large` (issue 16, item 3:
 * p50 at 100,000 ≤ 1.2× at 1,000). Runs the emulator as the product does (its own process, its state
 * journal under .stack/bench/emulator-latency), on its own port (32121), without webhooks.
 *
 * The load is a purchase as the product makes it: create a customer, create a PaymentIntent
 * (`pm_card_visa`, metadata), confirm it, retrieve it, list the customer's PaymentIntents; each POST with
 * an Idempotency-Key, as the SDK sends. One purchase adds 8 objects (customer, PaymentMethod,
 * PaymentIntent, charge and 4 events: customer.created, payment_intent.created, charge.succeeded,
 * payment_intent.succeeded), checked against the emulator's counters at the small size. The account is
 * filled with the same purchases from 20 concurrent lanes; then `--purchases` are timed one request at a
 * time (C=1), per request kind and all together. Before the small size, `--warmup` purchases and a reset
 * (so both sizes run warm code). Prints p50/p95/p99/max per kind, the p50 ratio large/small, the
 * emulator's RSS and its state files' sizes; writes test-results/bench-emulator.json. Stops the emulator
 * it started.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../stack/paths';

const { values } = parseArgs({
  options: {
    small: { type: 'string', default: '1000' },
    large: { type: 'string', default: '100000' },
    purchases: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '300' },
  },
});
const small = Number(values.small);
const large = Number(values.large);
const timed = Number(values.purchases);
const warmup = Number(values.warmup);
const OBJECTS_PER_PURCHASE = 8;
const port = 32121;
const base = `http://127.0.0.1:${port}`;
const dir = join(PROJECT_ROOT, '.stack', 'bench', 'emulator-latency');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(PROJECT_ROOT, 'tools/stripe-emulator/main.ts')],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      STACK_PROFILE: 'product',
      STACK_DIR: '.stack/bench',
      STRIPE_EMULATOR_PORT: String(port),
      STRIPE_EMULATOR_STATE_FILE: join(dir, 'state.json'),
      STRIPE_EMULATOR_WEBHOOK_URLS: ' ',
      LOG_LEVEL: 'warn',
    },
  },
);
const stop = () => {
  if (child.exitCode === null) child.kill('SIGTERM');
};
process.on('SIGINT', () => {
  stop();
  process.exit(130);
});

const KINDS = ['customer create', 'PI create', 'PI confirm', 'PI retrieve', 'PI list by customer'] as const;
type Kind = (typeof KINDS)[number];
const auth = { authorization: 'Bearer sk_test_emulator' };
let purchasesMade = 0;
let keySeq = 0;

async function call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ id?: string }> {
  const headers: Record<string, string> = { ...auth };
  if (method === 'POST') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    keySeq += 1;
    headers['idempotency-key'] = `bench-${process.pid}-${keySeq}`;
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body ? { body } : {}) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as { id?: string };
}

/** One purchase's requests; `times` gets each request's latency when given. */
async function purchase(times?: Record<Kind, number[]>): Promise<void> {
  purchasesMade += 1;
  const n = purchasesMade;
  const timedCall = async (kind: Kind, method: 'GET' | 'POST', path: string, body?: string) => {
    const t = performance.now();
    const result = await call(method, path, body);
    times?.[kind].push(performance.now() - t);
    return result;
  };
  const customer = await timedCall(
    'customer create',
    'POST',
    '/v1/customers',
    `email=bench${n}%40example.test&name=Bench`,
  );
  const pi = await timedCall(
    'PI create',
    'POST',
    '/v1/payment_intents',
    `amount=4000&currency=usd&customer=${customer.id}&payment_method=pm_card_visa&metadata[purchase_id]=pur_${n}`,
  );
  await timedCall('PI confirm', 'POST', `/v1/payment_intents/${pi.id}/confirm`, 'off_session=true');
  await timedCall('PI retrieve', 'GET', `/v1/payment_intents/${pi.id}`);
  await timedCall('PI list by customer', 'GET', `/v1/payment_intents?customer=${customer.id}&limit=10`);
}

async function fillTo(objects: number): Promise<void> {
  const target = Math.ceil(objects / OBJECTS_PER_PURCHASE);
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (purchasesMade < target) await purchase();
    }),
  );
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
function figures(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    max: round(s.at(-1) ?? Number.NaN),
  };
}
type Figures = ReturnType<typeof figures>;

function rssMb(): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024);
}
function stateFiles(): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).size]));
}

async function measure(label: string) {
  const objectsBefore = purchasesMade * OBJECTS_PER_PURCHASE;
  const times = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
  const started = performance.now();
  for (let i = 0; i < timed; i++) await purchase(times);
  const seconds = (performance.now() - started) / 1000;
  const byKind = Object.fromEntries(KINDS.map((k) => [k, figures(times[k])])) as Record<Kind, Figures>;
  const all = figures(KINDS.flatMap((k) => times[k]));
  const result = {
    label,
    objects: [objectsBefore, purchasesMade * OBJECTS_PER_PURCHASE],
    seconds: Math.round(seconds * 10) / 10,
    all,
    byKind,
    rssMb: rssMb(),
    files: stateFiles(),
  };
  console.log(
    `\n${label}: objects ${result.objects[0]} → ${result.objects[1]}, ${result.seconds} s, RSS ${result.rssMb} MB`,
  );
  console.log('  request               n      p50 ms  p95 ms  p99 ms  max ms');
  for (const [kind, f] of [...Object.entries(byKind), ['all', all] as const]) {
    console.log(
      `  ${kind.padEnd(20)}  ${String(f.n).padStart(5)}  ${f.p50.toFixed(3).padStart(6)}  ${f.p95.toFixed(3).padStart(6)}  ${f.p99.toFixed(3).padStart(6)}  ${f.max.toFixed(1).padStart(6)}`,
    );
  }
  console.log(`  state files: ${JSON.stringify(result.files)}`);
  return result;
}

try {
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${base}/_emulator/health`)).ok) break;
    } catch {
      if (i > 120) throw new Error('the emulator did not start');
    }
    await sleep(250);
  }
  for (let i = 0; i < warmup; i++) await purchase();
  await fetch(`${base}/_emulator/reset`, { method: 'POST' });
  purchasesMade = 0;
  await fillTo(small);
  const counters = (
    (await (await fetch(`${base}/_emulator/state`)).json()) as { counters: Record<string, number> }
  ).counters;
  const counted =
    (counters.customers ?? 0) +
    (counters.paymentMethods ?? 0) +
    (counters.paymentIntents ?? 0) +
    (counters.charges ?? 0) +
    (counters.events ?? 0);
  if (counted !== purchasesMade * OBJECTS_PER_PURCHASE) {
    throw new Error(
      `expected ${purchasesMade * OBJECTS_PER_PURCHASE} objects, the emulator counts ${counted}`,
    );
  }
  const atSmall = await measure('small');
  const t0 = performance.now();
  await fillTo(large);
  const fillS = Math.round((performance.now() - t0) / 1000);
  console.log(
    `\nfilled to ${purchasesMade * OBJECTS_PER_PURCHASE} objects (${purchasesMade} purchases) in ${fillS} s`,
  );
  await sleep(3_000);
  const atLarge = await measure('large');
  const ratio = Object.fromEntries(
    [...KINDS, 'all' as const].map((k) => {
      const a = k === 'all' ? atSmall.all : atSmall.byKind[k];
      const b = k === 'all' ? atLarge.all : atLarge.byKind[k];
      return [
        k,
        { p50: Math.round((b.p50 / a.p50) * 100) / 100, p95: Math.round((b.p95 / a.p95) * 100) / 100 },
      ];
    }),
  );
  console.log('\nratio large/small (goal: p50 ≤ 1.2×)');
  for (const [k, r] of Object.entries(ratio)) console.log(`  ${k.padEnd(20)}  p50 ${r.p50}×  p95 ${r.p95}×`);
  mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
  writeFileSync(
    join(PROJECT_ROOT, 'test-results', 'bench-emulator.json'),
    `${JSON.stringify({ date: new Date().toISOString(), small, large, timed, warmup, atSmall, atLarge, fillS, ratio }, null, 2)}\n`,
  );
} finally {
  stop();
}
