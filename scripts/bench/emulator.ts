/**
 * `npm run bench:emulator -- [--small 1000] [--large 100000] [--purchases 300] [--warmup 300]`: the Stripe
 * emulator's request latency with `--small` objects in its account against `--large` (issue 16, item 3:
 * p50 at 100,000 ≤ 1.2× at 1,000). Two emulators run as the product runs one (each its own process and
 * state journal under .stack/bench/emulator-latency/<size>), on ports 32121 (small) and 32122 (large),
 * without webhooks.
 *
 * The load is a purchase as the product makes it: create a customer, create a PaymentIntent
 * (`pm_card_visa`, metadata), confirm it, retrieve it, list the customer's PaymentIntents; each POST with
 * an Idempotency-Key, as the SDK sends. One purchase adds 8 objects (customer, PaymentMethod,
 * PaymentIntent, charge and 4 events: customer.created, payment_intent.created, charge.succeeded,
 * payment_intent.succeeded), checked against the emulator's counters at the small size. Each emulator
 * first runs `--warmup` purchases and is reset (warm code at both sizes); the accounts are filled with the
 * same purchases from 20 concurrent lanes; then `--purchases` purchases are timed on each, one request at
 * a time (C=1), interleaved (one purchase on each in turn, alternating which goes first) so both sizes
 * see the same load of a shared machine. Prints p50/p95/p99/max per request kind and in all, the
 * large/small ratios, each emulator's CPU time per request in the timed window (/proc/<pid>/stat: less
 * sensitive to other processes than wall time), RSS and state files' sizes; writes test-results/bench-emulator.json.
 * Stops the emulators it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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
const benchDir = join(PROJECT_ROOT, '.stack', 'bench', 'emulator-latency');
rmSync(benchDir, { recursive: true, force: true });

const KINDS = ['customer create', 'PI create', 'PI confirm', 'PI retrieve', 'PI list by customer'] as const;
type Kind = (typeof KINDS)[number];
const auth = { authorization: 'Bearer sk_test_emulator' };
let keySeq = 0;

/** One emulator process, as the product runs it, with its own state journal. */
class Emulator {
  readonly base: string;
  readonly dir: string;
  readonly child: ChildProcess;
  purchasesMade = 0;

  constructor(
    readonly name: string,
    port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
    this.dir = join(benchDir, name);
    mkdirSync(this.dir, { recursive: true });
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'tools/stripe-emulator/main.ts')],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          STACK_PROFILE: 'product',
          STACK_DIR: '.stack/bench',
          STRIPE_EMULATOR_PORT: String(port),
          STRIPE_EMULATOR_STATE_FILE: join(this.dir, 'state.json'),
          STRIPE_EMULATOR_WEBHOOK_URLS: ' ',
          LOG_LEVEL: 'warn',
        },
      },
    );
  }

  get objects(): number {
    return this.purchasesMade * OBJECTS_PER_PURCHASE;
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
  }

  async ready(): Promise<void> {
    for (let i = 0; ; i += 1) {
      try {
        if ((await fetch(`${this.base}/_emulator/health`)).ok) return;
      } catch {
        if (i > 120) throw new Error(`the ${this.name} emulator did not start`);
      }
      await sleep(250);
    }
  }

  async call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ id?: string }> {
    const headers: Record<string, string> = { ...auth };
    if (method === 'POST') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      keySeq += 1;
      headers['idempotency-key'] = `bench-${process.pid}-${keySeq}`;
    }
    const response = await fetch(`${this.base}${path}`, { method, headers, ...(body ? { body } : {}) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as { id?: string };
  }

  /** One purchase's requests; `times` gets each request's latency when given. */
  async purchase(times?: Record<Kind, number[]>): Promise<void> {
    this.purchasesMade += 1;
    const n = this.purchasesMade;
    const timedCall = async (kind: Kind, method: 'GET' | 'POST', path: string, body?: string) => {
      const t = performance.now();
      const result = await this.call(method, path, body);
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

  async fillTo(objects: number): Promise<void> {
    const target = Math.ceil(objects / OBJECTS_PER_PURCHASE);
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (this.purchasesMade < target) await this.purchase();
      }),
    );
  }

  /** The emulator's own count of the objects (customers, PaymentMethods, PaymentIntents, charges, events). */
  async counted(): Promise<number> {
    const state = (await (await fetch(`${this.base}/_emulator/state`)).json()) as {
      counters: Record<string, number>;
    };
    const c = state.counters;
    return (
      (c.customers ?? 0) +
      (c.paymentMethods ?? 0) +
      (c.paymentIntents ?? 0) +
      (c.charges ?? 0) +
      (c.events ?? 0)
    );
  }

  rssMb(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024);
  }

  /** CPU time the process used so far (user + system, all its threads), in ms: /proc/<pid>/stat. */
  cpuMs(): number {
    const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  }

  stateFiles(): Record<string, number> {
    return Object.fromEntries(readdirSync(this.dir).map((f) => [f, statSync(join(this.dir, f)).size]));
  }
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

function report(emulator: Emulator, objectsBefore: number, times: Record<Kind, number[]>, cpuMs: number) {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, figures(times[k])])) as Record<Kind, Figures>;
  const all = figures(KINDS.flatMap((k) => times[k]));
  const result = {
    objects: [objectsBefore, emulator.objects],
    all,
    byKind,
    rssMb: emulator.rssMb(),
    /** the emulator's CPU time per request during the timed window */
    cpuMsPerRequest: Math.round((cpuMs / all.n) * 1000) / 1000,
    files: emulator.stateFiles(),
  };
  console.log(
    `\n${emulator.name}: objects ${result.objects[0]} → ${result.objects[1]}, RSS ${result.rssMb} MB, CPU ${result.cpuMsPerRequest} ms per request`,
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

const smallEmulator = new Emulator('small', 32121);
const largeEmulator = new Emulator('large', 32122);
const both = [smallEmulator, largeEmulator];
process.on('SIGINT', () => {
  for (const e of both) e.stop();
  process.exit(130);
});

try {
  await Promise.all(both.map((e) => e.ready()));
  for (const e of both) {
    for (let i = 0; i < warmup; i++) await e.purchase();
    await fetch(`${e.base}/_emulator/reset`, { method: 'POST' });
    e.purchasesMade = 0;
  }
  await smallEmulator.fillTo(small);
  const counted = await smallEmulator.counted();
  if (counted !== smallEmulator.objects) {
    throw new Error(`expected ${smallEmulator.objects} objects, the emulator counts ${counted}`);
  }
  const t0 = performance.now();
  await largeEmulator.fillTo(large);
  const fillS = Math.round((performance.now() - t0) / 1000);
  console.log(
    `filled the large account to ${largeEmulator.objects} objects (${largeEmulator.purchasesMade} purchases) in ${fillS} s`,
  );
  await sleep(3_000);
  // Interleaved: one purchase on each in turn, alternating which goes first.
  const before = both.map((e) => e.objects);
  const times = both.map(
    () => Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>,
  );
  const cpuBefore = both.map((e) => e.cpuMs());
  const started = performance.now();
  for (let i = 0; i < timed; i++) {
    for (const j of i % 2 === 0 ? [0, 1] : [1, 0]) await (both[j] as Emulator).purchase(times[j]);
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const cpu = both.map((e, i) => e.cpuMs() - (cpuBefore[i] as number));
  const atSmall = report(
    smallEmulator,
    before[0] as number,
    times[0] as Record<Kind, number[]>,
    cpu[0] as number,
  );
  const atLarge = report(
    largeEmulator,
    before[1] as number,
    times[1] as Record<Kind, number[]>,
    cpu[1] as number,
  );
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
  console.log(`\ntimed in ${seconds} s; ratio large/small (goal: p50 ≤ 1.2×)`);
  for (const [k, r] of Object.entries(ratio)) console.log(`  ${k.padEnd(20)}  p50 ${r.p50}×  p95 ${r.p95}×`);
  const cpuRatio = Math.round((atLarge.cpuMsPerRequest / atSmall.cpuMsPerRequest) * 100) / 100;
  console.log(`  CPU per request       ${cpuRatio}×`);
  mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
  writeFileSync(
    join(PROJECT_ROOT, 'test-results', 'bench-emulator.json'),
    `${JSON.stringify({ date: new Date().toISOString(), small, large, timed, warmup, atSmall, atLarge, fillS, seconds, ratio, cpuRatio }, null, 2)}\n`,
  );
} finally {
  for (const e of both) e.stop();
}
