/**
 * `npx tsx scripts/bench/emulator.ts [--small 1000] [--large 100000] [--seconds 10]`: the Stripe
 * emulator's request latency with `--small` customers in its account against `--large` (issue 16,
 * item 3). Runs the emulator as the product does (its own process, a state file under .stack/bench),
 * on its own port (32121), without webhooks; prints p50/p95/p99/max of a create and a retrieve at C=1,
 * for `--seconds` at each size (long enough to span the state file's once-a-second saves), and their ratio; writes test-results/bench-emulator.json. Stops the emulator it started.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../stack/paths';

const { values } = parseArgs({
  options: {
    small: { type: 'string', default: '1000' },
    large: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
  },
});
const small = Number(values.small);
const large = Number(values.large);
const seconds = Number(values.seconds);
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

const headers = {
  authorization: 'Bearer sk_test_emulator',
  'content-type': 'application/x-www-form-urlencoded',
};
let n = 0;
async function createCustomer(): Promise<string> {
  n += 1;
  const response = await fetch(`${base}/v1/customers`, {
    method: 'POST',
    headers,
    body: `email=bench${n}%40example.test&name=Bench`,
  });
  if (!response.ok) throw new Error(`create: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}
async function retrieveCustomer(id: string): Promise<void> {
  const response = await fetch(`${base}/v1/customers/${id}`, { headers });
  if (!response.ok) throw new Error(`retrieve: ${response.status}`);
  await response.arrayBuffer();
}
async function fillTo(count: number): Promise<void> {
  const lanes = 20;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (n < count) await createCustomer();
    }),
  );
}
const percentile = (sorted: number[], p: number) =>
  sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
async function measure(): Promise<{
  create: { p50: number; p95: number };
  retrieve: { p50: number; p95: number };
}> {
  const create: number[] = [];
  const retrieve: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    let t = performance.now();
    const id = await createCustomer();
    create.push(performance.now() - t);
    t = performance.now();
    await retrieveCustomer(id);
    retrieve.push(performance.now() - t);
  }
  const fig = (xs: number[]) => {
    const s = xs.sort((a, b) => a - b);
    return {
      n: s.length,
      p50: percentile(s, 50),
      p95: percentile(s, 95),
      p99: percentile(s, 99),
      max: s.at(-1) ?? Number.NaN,
    };
  };
  return { create: fig(create), retrieve: fig(retrieve) };
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
  await fillTo(small);
  const atSmall = await measure();
  console.log(`at ${n} objects: ${JSON.stringify(atSmall)}`);
  const t0 = performance.now();
  await fillTo(large);
  const fillS = (performance.now() - t0) / 1000;
  console.log(`filled to ${n} in ${fillS.toFixed(0)} s`);
  await sleep(3_000);
  const atLarge = await measure();
  console.log(`at ${n} objects: ${JSON.stringify(atLarge)}`);
  const ratio = {
    create: atLarge.create.p50 / atSmall.create.p50,
    retrieve: atLarge.retrieve.p50 / atSmall.retrieve.p50,
  };
  console.log(
    `p50 ratio large/small: create ${ratio.create.toFixed(2)}×, retrieve ${ratio.retrieve.toFixed(2)}×`,
  );
  mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
  writeFileSync(
    join(PROJECT_ROOT, 'test-results', 'bench-emulator.json'),
    `${JSON.stringify({ date: new Date().toISOString(), small, large, seconds, atSmall, atLarge, fillS, ratio }, null, 2)}\n`,
  );
} finally {
  stop();
}
