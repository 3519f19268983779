/**
 * `npm run bench -- [--purchases N] [--concurrency 1,10,50] [--parked N] [--credits N] [--usage N] [--temporal dev|server] [--workers N] [--shards N] [--heap-snapshots]`: the purchase
 * against the null purchase (docs/benchmarks.md), in one run, on a stack of the bench's own
 * (STACK_DIR .stack/bench, its own ports, the product profile's dev server on a SQLite file), with the
 * real worker and portal as child processes and the null worker beside them, same worker settings.
 * `--workers N` runs N product worker processes on the task queue (default 1); `--shards N` (server mode)
 * sets TEMPORAL_HISTORY_SHARDS on a fresh cluster in `.stack/bench-server-<N>` (docs/scaling.md).
 * The parked step also reads each worker's V8 heaps (main thread and workflow threads) through the
 * heap probe the bench loads into both workers (scripts/bench/heap-probe.ts); `--heap-snapshots` writes
 * a heap snapshot of each at each step into test-results/heap/ (read them with heap-summary.ts; the
 * snapshots themselves grow the workers' RSS, so such a run's RSS figures are not the measure).
 * Prints a table of figures and ratios and writes test-results/bench.json. Stops everything it started,
 * also on Ctrl-C and on errors.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config';
import { createSql, type Sql } from '../../src/db/client';
import { grantPurchaseCredits } from '../../src/db/ledger';
import { createStripe } from '../../src/stripe/client';
import { connectClient } from '../../src/temporal/client';
import { startWorkflowOnce } from '../../src/temporal/start-once';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';
import {
  CreditPackIdKey,
  CustomerIdKey,
  OrganizationIdKey,
  PurchaseStatusKey,
} from '../../src/workflows/purchase/search-attributes';
import { componentDir, PROJECT_ROOT, stackRoot, toolsBin } from '../stack/paths';
import { stackDown, stackStatus, stackUp } from '../stack/stack';
import { benchEnv } from './env';
import type { HeapFigures, HeapRequest } from './heap-probe';
import { percentile, type RunFigures, timed } from './measure';
import { NULL_TASK_QUEUE } from './null-activities';
import {
  type NullPurchaseInput,
  nullParkedQuery,
  nullPurchaseWorkflow,
  nullWakeSignal,
} from './null-workflows';
import { runPgbench } from './pgbench';
import { lastLoggedError, waitForCount } from './stall';
import { benchUsage } from './usage';

const { values } = parseArgs({
  options: {
    purchases: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1,10,50' },
    parked: { type: 'string', default: '2000' },
    credits: { type: 'string', default: '2000' },
    'credit-clients': { type: 'string', default: '10' },
    usage: { type: 'string', default: '2000' },
    temporal: { type: 'string', default: 'dev' },
    workers: { type: 'string', default: '1' },
    shards: { type: 'string' },
    'heap-snapshots': { type: 'boolean', default: false },
    'worker-node-flags': { type: 'string', default: WORKER_NODE_FLAGS.join(' ') },
  },
});
if (values.temporal !== 'dev' && values.temporal !== 'server') {
  console.error(`--temporal must be dev or server (got ${values.temporal})`);
  process.exit(2);
}
function whole(name: string, raw: string | undefined, min = 1): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > 100_000) {
    console.error(`--${name} must be a whole number from ${min} to 100000 (got ${raw})`);
    process.exit(2);
  }
  return value;
}
const purchases = whole('purchases', values.purchases);
const levels = (values.concurrency ?? '').split(',').map((c) => whole('concurrency', c));
const parked = whole('parked', values.parked, 0);
const credits = whole('credits', values.credits, 0);
const creditClients = whole('credit-clients', values['credit-clients']);
const usageCalls = whole('usage', values.usage, 0);
const workerCount = whole('workers', values.workers);
const shards = values.shards === undefined ? undefined : whole('shards', values.shards);
if (shards !== undefined && values.temporal !== 'server') {
  console.error('--shards needs --temporal server');
  process.exit(2);
}

/**
 * Node/V8 flags given to both workers, the product's and the null one (the same settings for both):
 * by default the product worker's own (src/worker-node-flags.ts); `--worker-node-flags=` for none, or
 * others to try (space-separated, each `--name` or `--name=value`, given with `=`).
 */
const workerNodeFlags = (values['worker-node-flags'] ?? '').split(' ').filter((flag) => flag !== '');
for (const flag of workerNodeFlags) {
  if (!/^--[a-z0-9-]+(=[\w.-]+)?$/.test(flag)) {
    console.error(`--worker-node-flags: each flag must look like --name or --name=value (got ${flag})`);
    process.exit(2);
  }
}

// The bench's own stack (scripts/bench/env.ts); `--temporal server` in a folder of its own.
const BENCH_ENV = benchEnv(values.temporal);
// Shards are fixed when the cluster's databases are made: a folder (and so a Postgres cluster) per count.
if (shards !== undefined)
  Object.assign(BENCH_ENV, {
    TEMPORAL_HISTORY_SHARDS: String(shards),
    STACK_DIR: `.stack/bench-server-${shards}`,
  });
const sharedTools = toolsBin(loadConfig({ ...process.env, STACK_DIR: '.stack' }));
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ...BENCH_ENV,
  PATH: `${sharedTools}:${process.env.PATH}`,
};
for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_SECRET_KEY', 'STRIPE_EMULATOR_STATE_FILE'])
  delete childEnv[name];
// The stack manager's components read this process's environment (ports, STACK_DIR), and find the
// Temporal CLI on PATH (the build shared with the other stacks).
for (const name of Object.keys(process.env)) if (!(name in childEnv)) delete process.env[name];
Object.assign(process.env, childEnv);
const config = loadConfig(childEnv);
const heapSnapshots = values['heap-snapshots'] === true;
const HEAP_DIR = join(PROJECT_ROOT, 'test-results', 'heap');
const log = (line: string) => console.log(`[bench] ${line}`);

const children: { name: string; process: ChildProcess }[] = [];
let stackStarting: Promise<string[]> | undefined;
let stopping = false;

/** Workers run with the heap probe (scripts/bench/heap-probe.ts), answering over an IPC channel. */
function runChild(
  name: string,
  entry: string,
  extraEnv: NodeJS.ProcessEnv = {},
  probe = false,
): ChildProcess {
  // Every worker (the product's and the null one) gets the same Node flags; the portal none.
  const flags = entry.endsWith('worker.ts') ? workerNodeFlags : [];
  const args = probe
    ? [
        ...flags,
        '--expose-gc',
        '--import',
        'tsx',
        '--import',
        join(PROJECT_ROOT, 'scripts/bench/heap-probe.ts'),
      ]
    : [...flags, '--import', 'tsx'];
  const child = spawn(process.execPath, [...args, join(PROJECT_ROOT, entry)], {
    stdio: ['ignore', 'inherit', 'inherit', ...(probe ? (['ipc'] as const) : [])],
    env: { ...childEnv, ...extraEnv },
  });
  children.push({ name, process: child });
  child.once('exit', (code) => {
    if (!stopping) {
      log(`${name} exited unexpectedly (code ${code}); stopping everything`);
      void shutdown(1);
    }
  });
  return child;
}

async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  log('stopping what the bench started');
  const exits = children
    .filter((c) => c.process.exitCode === null)
    .map((c) => new Promise((resolve) => c.process.once('exit', resolve)));
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  await Promise.race([Promise.all(exits), sleep(config.WORKER_SHUTDOWN_GRACE_MS + 5_000)]);
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  if (stackStarting) {
    const started = await stackStarting.catch(() => [] as string[]);
    if (started.length > 0) await stackDown(config, log, started);
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

// ---- measurement helpers -------------------------------------------------------------------------

/** VmRSS of a process, in MB (null when it is gone). */
function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** How long after the probe's full GC the settled read starts, and how many reads it takes (1 s apart). */
const SETTLE_DELAY_MS = 10_000;
const SETTLE_READS = 5;
/**
 * The purchases' parking stops waiting when no purchase reached the card wait for this long (normal
 * parking at 10,000 moves about 200 a minute on the 2-core machine): a wedged server is reported in
 * minutes, with its log's last error, not after the whole limit (scripts/bench/stall.ts).
 */
const PARKING_STALL_MS = 300_000;

/** The median of SETTLE_READS reads of each worker's RSS, SETTLE_DELAY_MS after their full GC. */
async function settledRss(
  pids: Record<'worker' | 'nullWorker', number | undefined>,
): Promise<Record<'worker' | 'nullWorker', number | null>> {
  await sleep(SETTLE_DELAY_MS);
  const reads: Record<'worker' | 'nullWorker', number[]> = { worker: [], nullWorker: [] };
  for (let i = 0; i < SETTLE_READS; i += 1) {
    if (i > 0) await sleep(1_000);
    for (const key of ['worker', 'nullWorker'] as const) {
      const mb = rssMb(pids[key]);
      if (mb !== null) reads[key].push(mb);
    }
  }
  const median = (values: number[]) =>
    values.length === 0
      ? null
      : percentile(
          [...values].sort((a, b) => a - b),
          50,
        );
  return { worker: median(reads.worker), nullWorker: median(reads.nullWorker) };
}

let heapRequests = 0;
/**
 * A worker's V8 heap figures (main thread and workflow threads, after a full GC) from its heap probe,
 * and with `--heap-snapshots` a snapshot of each heap, labelled, in test-results/heap/. Null when the
 * worker does not answer within the timeout.
 */
async function heapOf(child: ChildProcess, label: string): Promise<HeapFigures | null> {
  if (!child.connected) return null;
  const id = ++heapRequests;
  const request: HeapRequest = {
    heapProbe: true,
    id,
    gc: true,
    ...(heapSnapshots ? { snapshotDir: HEAP_DIR, label } : {}),
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), heapSnapshots ? 600_000 : 60_000);
    const onMessage = (message: { heapProbe?: boolean; id?: number; figures?: HeapFigures }) => {
      if (message?.heapProbe && message.id === id) done(message.figures ?? null);
    };
    function done(figures: HeapFigures | null) {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(figures);
    }
    child.on('message', onMessage);
    child.send(request);
  });
}

/** The stack component that is the Temporal server in this run (the dev server, or server mode's). */
const temporalComponent = config.TEMPORAL_MODE === 'server' ? 'temporal-server' : 'temporal';

function temporalPid(): number | undefined {
  return componentPid(temporalComponent);
}

/** The Temporal server's log (the stack writes each component's output to `<name>.log` beside its pid). */
function temporalLog(): string {
  return join(componentDir(config, temporalComponent), `${temporalComponent}.log`);
}

/** The pid a stack component recorded (its `pid` file), if it runs. */
function componentPid(component: string): number | undefined {
  const file = join(componentDir(config, component), 'pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) ? pid : undefined;
}

/** Growth of used V8 heap, MB: the main thread's and each workflow thread's (in creation order). */
function heapGrowth(
  before: HeapFigures | null | undefined,
  after: HeapFigures | null | undefined,
): { main: number; threads: number[] } | null {
  if (!before || !after) return null;
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    main: r(after.main.usedMb - before.main.usedMb),
    threads: after.threads.map((t, i) => r(t.usedMb - (before.threads[i]?.usedMb ?? 0))),
  };
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function postgresPid(): number | undefined {
  const file = join(componentDir(config, 'postgres'), 'data', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) ? pid : undefined;
}

/**
 * CPU seconds of a process and its children (Postgres: the postmaster and its backends): those alive
 * now, and those that have exited, which the kernel adds to the parent's cutime and cstime once it
 * reaps them. Without the latter, a backend ending between two reads took its CPU out of the sum, and
 * a quiet row could show a negative share.
 */
function treeCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  let total: number;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    total = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      if (Number(fields[1]) === pid) total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // gone
    }
  }
  return total;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

// ---- the product's HTTP API ----------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API
async function api(method: string, path: string, token: string, body?: unknown, headers = {}): Promise<any> {
  const response = await fetch(`${config.portalUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API
  const json = (await response.json()) as any;
  if (!response.ok || json?.success !== true) {
    throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
  }
  return json.data;
}

// ---- the run -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAtMs = Date.now();
  // A fresh bench stack each run (parked workflows of a previous run would resume): wiped only when
  // none of its components runs.
  const benchData = join(stackRoot(config), config.STACK_PROFILE);
  const status = await stackStatus(config);
  if (status.every((row) => row.state !== 'running') && existsSync(benchData)) {
    rmSync(benchData, { recursive: true, force: true });
    log(`wiped ${benchData}`);
  }
  stackStarting = stackUp(config, log);
  await stackStarting;
  if (stopping) return;

  // Each further worker on a metrics port of its own.
  const workers = Array.from({ length: workerCount }, (_, i) =>
    runChild(
      i === 0 ? 'worker' : `worker ${i + 1}`,
      'src/worker.ts',
      i === 0 ? {} : { METRICS_PORT: String(config.METRICS_PORT + 10 + i) },
      i === 0,
    ),
  );
  const worker = workers[0]!;
  const portal = runChild('portal', 'src/portal/server.ts');
  const nullWorker = runChild('null worker', 'scripts/bench/null-worker.ts', {}, true);
  await until(
    'portal',
    async () => (await fetch(`${config.portalUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })).ok,
    60_000,
  );
  const client = await connectClient(config);
  const sql = createSql(config.databaseUrl, { maxConnections: 4, applicationName: 'bench' });
  const stripe = createStripe(config);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
    cores: (await import('node:os')).cpus().length,
    options: {
      purchases,
      concurrency: levels,
      parked,
      credits,
      creditClients,
      workers: workerCount,
      shards,
      workerNodeFlags,
    },
    env: BENCH_ENV,
  };
  try {
    // The world: an organization, a plan, a pack; one card-on-file shopper per lane; card-less shoppers.
    const org = await api('POST', '/v1/organizations', config.PLATFORM_ADMIN_TOKEN, { name: 'Bench Org' });
    const apiKey = org.apiKey as string;
    const orgId = org.organization.id as string;
    const plan = await api('POST', '/v1/plans', apiKey, {
      name: 'Pro',
      consumptionModel: 'credits',
      includedCredits: 1000,
    });
    const pack = await api('POST', '/v1/credit-packs', apiKey, {
      name: 'Bench Pack',
      credits: 100,
      price: 1000,
    });
    async function shopper(card: boolean): Promise<{ id: string; token: string }> {
      const email = `bench-${randomUUID().slice(0, 8)}@example.test`;
      const stripeCustomer = await stripe.customers.create({ email });
      const extra: Record<string, string> = { stripeCustomerId: stripeCustomer.id };
      if (card) {
        const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: stripeCustomer.id });
        await stripe.customers.update(stripeCustomer.id, {
          invoice_settings: { default_payment_method: pm.id },
        });
        extra.defaultPaymentMethodId = pm.id;
      }
      const customer = await api('POST', '/v1/customers', apiKey, { email, name: 'Bench Shopper', ...extra });
      await api('POST', '/v1/subscriptions', apiKey, {
        customerId: customer.id,
        planId: plan.id,
        status: 'active',
      });
      const session = await api('POST', '/v1/portal-sessions', apiKey, { customerId: customer.id });
      return { id: customer.id, token: session.token };
    }
    const lanes = Math.max(...levels);
    const shoppers: { id: string; token: string }[] = [];
    for (let i = 0; i < lanes; i += 1) shoppers.push(await shopper(true));
    log(`prepared ${shoppers.length} shoppers with a card on file`);

    const startNull = (input: NullPurchaseInput) =>
      startWorkflowOnce(client, nullPurchaseWorkflow, {
        workflowId: `bench-null:${input.purchaseId}`,
        taskQueue: NULL_TASK_QUEUE,
        args: [input],
        typedSearchAttributes: [
          { key: OrganizationIdKey, value: orgId },
          { key: CustomerIdKey, value: 'cus_bench' },
          { key: CreditPackIdKey, value: pack.id },
          { key: PurchaseStatusKey, value: 'pending' },
        ],
        staticSummary: `Null purchase ${input.purchaseId}`,
      });
    async function nullPurchase(): Promise<string> {
      const purchaseId = randomUUID();
      await startNull({ purchaseId });
      const result = await client.workflow.getHandle(`bench-null:${purchaseId}`).result();
      return result.status;
    }
    async function httpPurchase(lane: number): Promise<string> {
      const who = shoppers[lane % shoppers.length]!;
      const answer = await api(
        'POST',
        '/v1/portal/purchases',
        who.token,
        { creditPackId: pack.id },
        { 'idempotency-key': randomUUID() },
      );
      const result = await client.workflow.getHandle(`credit-pack-purchase:${answer.id}`).result();
      return result.status as string;
    }
    // Warm-up: bundles loaded, connections open, before anything is timed.
    await nullPurchase();
    await httpPurchase(0);

    const throughput: { kind: string; figures: RunFigures; cpu: Record<string, number | null> }[] = [];
    const tPid = temporalPid();
    for (const c of levels) {
      for (const [kind, one] of [
        ['null', nullPurchase],
        ['http', httpPurchase],
      ] as const) {
        const pids = {
          temporal: tPid,
          worker: kind === 'null' ? nullWorker.pid : worker.pid,
          portal: portal.pid,
          postgres: postgresPid(),
          // Stripe's stand-in: on this machine it takes CPU the real Stripe would not.
          emulator: componentPid('stripe-emulator'),
        };
        // The product workers' CPU is their sum.
        const workerCpu = () =>
          kind === 'null'
            ? cpuSeconds(nullWorker.pid)
            : workers.reduce<number | null>((sum, w) => {
                const s = cpuSeconds(w.pid);
                return sum === null || s === null ? null : sum + s;
              }, 0);
        const cpuOf = (k: string, p: number | undefined) =>
          k === 'worker' ? workerCpu() : k === 'postgres' ? treeCpuSeconds(p) : cpuSeconds(p);
        const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(k, p)]));
        const t0 = performance.now();
        const figures = await timed(c, purchases, one);
        const wallS = (performance.now() - t0) / 1000;
        const cpu = Object.fromEntries(
          Object.entries(pids).map(([k, p]) => {
            const a = cpuOf(k, p);
            const b = before[k];
            return [k, a === null || b === null || b === undefined ? null : (a - b) / wallS];
          }),
        );
        throughput.push({ kind, figures, cpu });
        log(
          `${kind.padEnd(4)} C=${c}: ${figures.perSecond.toFixed(2)}/s p50 ${figures.p50Ms.toFixed(0)} ms p95 ${figures.p95Ms.toFixed(0)} ms ${JSON.stringify(figures.outcomes)} cpu ${JSON.stringify(cpu)}`,
        );
      }
    }
    results.throughput = throughput;

    // Parked: the same number of null workflows waiting on a signal, then of purchases awaiting a card.
    if (parked > 0) {
      // RSS first (as it is, no collection forced), then the heaps after a full GC (and snapshots).
      const heaps: Record<string, { worker: HeapFigures | null; nullWorker: HeapFigures | null }> = {};
      // Third, the settled read: RSS again once the full GC's own transient has passed (a compacting
      // collection maps new pages before it unmaps the old ones), the median of several reads. The
      // plain read takes whatever collectable garbage a worker held at that moment (the null worker's
      // read before its parking, right after its start and the throughput rows, was 234 MB in one
      // 10,000 run and 293 MB in the next, 234 and 236 MB after a GC); the read right after the GC
      // catches the compaction's extra pages (a busy product worker read 70 MB above its plain read).
      const settled: Record<string, { worker: number | null; nullWorker: number | null }> = {};
      const settle = async (label: string) => {
        await sleep(5_000);
        const rss = {
          worker: rssMb(worker.pid),
          nullWorker: rssMb(nullWorker.pid),
          temporal: rssMb(tPid),
        };
        if (heapSnapshots) mkdirSync(HEAP_DIR, { recursive: true });
        heaps[label] = {
          worker: await heapOf(worker, `product-${label}`),
          nullWorker: await heapOf(nullWorker, `null-${label}`),
        };
        log(`heaps ${label}: ${JSON.stringify(heaps[label])}`);
        settled[label] = await settledRss({ worker: worker.pid, nullWorker: nullWorker.pid });
        log(`settled RSS ${label}: ${JSON.stringify(settled[label])}`);
        return rss;
      };
      // The worker works through the parked workflows' tasks after they are started (and past its cache,
      // replays): 10,000 took it longer than 5 minutes on the shared 2-core machine.
      const readyWithinMs = Math.max(300_000, parked * 150);
      const base = await settle('base');
      const nullIds: string[] = [];
      await timed(50, parked, async () => {
        const purchaseId = randomUUID();
        nullIds.push(purchaseId);
        await startNull({ purchaseId, park: true });
        return 'started';
      });
      for (const id of nullIds.slice(-50)) {
        await until(
          `null ${id} parked`,
          () => client.workflow.getHandle(`bench-null:${id}`).query(nullParkedQuery),
          readyWithinMs,
        );
      }
      const afterNull = await settle('afterNull');
      log(`parked ${parked} null workflows: ${JSON.stringify({ base, afterNull })}`);
      const cardless: { id: string; token: string }[] = [];
      for (let i = 0; i < 20; i += 1) cardless.push(await shopper(false));
      const parkedIds: string[] = [];
      const parkedAnswers = await timed(50, parked, async (lane) => {
        const who = cardless[lane % cardless.length]!;
        const answer = await api(
          'POST',
          '/v1/portal/purchases',
          who.token,
          { creditPackId: pack.id },
          { 'idempotency-key': randomUUID() },
        );
        parkedIds.push(answer.id);
        return answer.status as string;
      });
      const parking = await waitForCount({
        what: 'purchases awaiting a card',
        count: async () => {
          const [row] = await sql<{ n: number }[]>`
            select count(*)::int as n from purchases where id in ${sql(parkedIds)} and status = 'awaiting_payment_method'`;
          return row?.n ?? 0;
        },
        target: parkedIds.length,
        timeoutMs: readyWithinMs,
        stallMs: PARKING_STALL_MS,
        explainStall: () => lastLoggedError(temporalLog()),
      });
      const parkedNow = parking.reached;
      if (parking.message) log(parking.message);
      const afterProduct = await settle('afterProduct');
      log(
        `parked ${parkedNow} purchases: ${JSON.stringify({ afterProduct, answers: parkedAnswers.outcomes })}`,
      );
      const growth = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
      results.parked = {
        count: parked,
        purchasesAwaitingCard: parkedNow,
        // `done`, or why the bench stopped waiting (`timeout`, `stalled`: parking.message says more).
        parkingOutcome: parking.outcome,
        parkingMessage: parking.message ?? null,
        checkoutFigures: parkedAnswers,
        rssMb: { base, afterNull, afterProduct },
        heaps,
        heapSnapshots,
        growthMb: {
          nullWorker: growth(afterNull.nullWorker, base.nullWorker),
          productWorker: growth(afterProduct.worker, afterNull.worker),
          temporalDuringNull: growth(afterNull.temporal, base.temporal),
          temporalDuringProduct: growth(afterProduct.temporal, afterNull.temporal),
        },
        heapGrowthMb: {
          nullWorker: heapGrowth(heaps.base?.nullWorker, heaps.afterNull?.nullWorker),
          productWorker: heapGrowth(heaps.afterNull?.worker, heaps.afterProduct?.worker),
        },
        // Each read SETTLE_DELAY_MS after the probe's full GC, the median of SETTLE_READS (above).
        settledRssMb: settled,
        settledGrowthMb: {
          nullWorker: growth(settled.afterNull?.nullWorker ?? null, settled.base?.nullWorker ?? null),
          productWorker: growth(settled.afterProduct?.worker ?? null, settled.afterNull?.worker ?? null),
        },
        // RSS read by the probe right after its full GC: both workers' growth from a collected baseline
        // (the plain reads above take whatever garbage each worker happened to hold at that moment).
        growthAfterGcMb: {
          nullWorker: growth(
            heaps.afterNull?.nullWorker?.rssMb ?? null,
            heaps.base?.nullWorker?.rssMb ?? null,
          ),
          productWorker: growth(
            heaps.afterProduct?.worker?.rssMb ?? null,
            heaps.afterNull?.worker?.rssMb ?? null,
          ),
        },
      };
      // Let the null ones finish (they would otherwise resume in a later run on this data).
      await Promise.all(
        nullIds.map((id) =>
          client.workflow
            .getHandle(`bench-null:${id}`)
            .signal(nullWakeSignal)
            .catch(() => {}),
        ),
      );
    }

    if (credits > 0) results.crediting = await benchCrediting(sql, orgId, pack, shoppers[0]!.id);
    if (usageCalls > 0) {
      results.usage = await benchUsage({
        sql,
        databaseUrl: config.databaseUrl,
        orgId,
        count: usageCalls,
        clients: creditClients,
        scriptDir: componentDir(config, 'postgres'),
        log,
      });
    }
  } finally {
    // The whole run, from the stack's start to the last figure (the defaults' budget: 15 minutes).
    results.elapsedMinutes = Math.round((Date.now() - startedAtMs) / 6_000) / 10;
    writeResults(results);
    await sql.end({ timeout: 5 });
    await client.connection.close();
  }
  await shutdown(0);
}

/** Purchases inserted straight into `crediting`, ready for the grant (no workflow). */
async function prepareCrediting(
  sql: Sql,
  orgId: string,
  pack: { id: string },
  customerId: string,
  count: number,
): Promise<string[]> {
  const ids = Array.from({ length: count }, () => `pur_bench${randomUUID().replaceAll('-', '')}`);
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await sql`
      insert into purchases (id, organization_id, customer_id, credit_pack_id, quantity, unit_credits,
                             unit_price_cents, credits, price_cents, status, idempotency_key, request_hash)
      select id, ${orgId}, ${customerId}, ${pack.id}, 1, 100, 1000, 100, 1000, 'crediting', id, encode(sha256(id::bytea), 'hex')
        from unnest(string_to_array(${chunk.join(',')}::text, ',')) as id`;
  }
  return ids;
}

async function benchCrediting(sql: Sql, orgId: string, pack: { id: string }, customerId: string) {
  const ours = createSql(config.databaseUrl, {
    maxConnections: creditClients,
    applicationName: 'bench-credit',
  });
  let product: RunFigures;
  try {
    const ids = await prepareCrediting(sql, orgId, pack, customerId, credits);
    let next = 0;
    product = await timed(creditClients, ids.length, async () => {
      const id = ids[next++]!;
      const grant = await grantPurchaseCredits(ours, id, 'run-bench');
      return grant.replayed ? 'replayed' : 'granted';
    });
  } finally {
    await ours.end({ timeout: 5 });
  }
  log(
    `crediting (product code) C=${creditClients}: ${product.perSecond.toFixed(0)}/s p50 ${product.p50Ms.toFixed(1)} ms`,
  );

  // pgbench: the same statements, one purchase per transaction, picked by a sequence. The product skips
  // the existing grant's read for a purchase in `crediting` (no grant can exist then) and pipelines
  // the insert and the update (one round trip); pgbench sends each statement in a round trip of its own.
  // Not pipelined here on purpose: the floor stays plain pgbench.
  const ids = await prepareCrediting(sql, orgId, pack, customerId, credits);
  await sql`drop table if exists bench_credit_ids`;
  await sql`create table bench_credit_ids (n bigint primary key, id text not null)`;
  await sql`insert into bench_credit_ids select n, id from unnest(string_to_array(${ids.join(',')}::text, ',')) with ordinality as t(id, n)`;
  await sql`drop sequence if exists bench_credit_seq`;
  await sql`create sequence bench_credit_seq`;
  const script = join(componentDir(config, 'postgres'), 'crediting.pgbench');
  writeFileSync(
    script,
    `select nextval('bench_credit_seq') as n \\gset
select id as pid from bench_credit_ids where n = :n \\gset
begin;
select p.organization_id, p.customer_id, p.credits, p.status, c.deleted_at, p.workflow_run_id, p.price_cents, p.dispute_status, p.dispute_amount_cents, p.dispute_credits_held, p.credits_reversed_by_refunds from purchases p join customers c on c.organization_id = p.organization_id and c.id = p.customer_id where p.id = :pid for update of p, c;
insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id, description) select organization_id, customer_id, 'purchased', 'purchase_grant', credits, id, 'Credit pack purchase ' || id from purchases where id = :pid returning id;
update purchases set status = 'completed', next_action = null, failure_code = null, failure_message = null, failure_decline_code = null where id = :pid;
commit;
`,
  );
  const pgbench = runPgbench({
    databaseUrl: config.databaseUrl,
    scriptPath: script,
    clients: creditClients,
    transactionsPerClient: Math.floor(credits / creditClients),
    log,
  });
  log(`crediting (pgbench) C=${creditClients}: ${JSON.stringify(pgbench)}`);
  await sql`drop table if exists bench_credit_ids`;
  await sql`drop sequence if exists bench_credit_seq`;
  return { clients: creditClients, product, pgbench };
}

function writeResults(results: Record<string, unknown>): void {
  mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
  const file = join(
    PROJECT_ROOT,
    'test-results',
    values.temporal !== 'server'
      ? 'bench.json'
      : `bench-server${shards === undefined ? '' : `-${shards}`}${workerCount === 1 ? '' : `-w${workerCount}`}.json`,
  );
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  printTable(results);
  log(`wrote ${file} after ${results.elapsedMinutes} minutes`);
}

/** The measured processes' CPU for one purchase, ms of one core (their shares summed, over the rate). */
function cpuMsPerPurchase(cpu: Record<string, number | null>, perSecond: number): number | null {
  const shares = Object.values(cpu).filter((share): share is number => share !== null);
  return perSecond > 0
    ? (shares.reduce((sum, share) => sum + Math.max(0, share), 0) / perSecond) * 1000
    : null;
}

function printTable(results: Record<string, unknown>): void {
  const rows = (results.throughput ?? []) as {
    kind: string;
    figures: RunFigures;
    cpu: Record<string, number | null>;
  }[];
  const fmt = (n: number | null | undefined, d = 0) => (n === null || n === undefined ? '—' : n.toFixed(d));
  const pct = (n: number | null | undefined) =>
    n === null || n === undefined ? '—' : `${Math.round(n * 100)} %`;
  console.log(
    '\n| | C | n | per s | p50 ms | p95 ms | × null per s | × null p50 | CPU temporal / worker / portal / postgres / emulator | CPU ms a purchase, all five |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const floor = rows.find((r) => r.kind === 'null' && r.figures.concurrency === row.figures.concurrency);
    const f = row.figures;
    const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '—');
    console.log(
      `| ${row.kind === 'null' ? 'null purchase' : 'HTTP checkout → completed'} | ${f.concurrency} | ${f.count} | ${fmt(f.perSecond, 2)} | ${fmt(f.p50Ms)} | ${fmt(f.p95Ms)} | ${ratio(f.perSecond, floor?.figures.perSecond)} | ${ratio(f.p50Ms, floor?.figures.p50Ms)} | ${pct(row.cpu.temporal)} / ${pct(row.cpu.worker)} / ${pct(row.cpu.portal)} / ${pct(row.cpu.postgres)} / ${pct(row.cpu.emulator)} | ${fmt(cpuMsPerPurchase(row.cpu, f.perSecond))} |`,
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: the JSON written above
  const p = results.parked as any;
  if (p) {
    console.log(`\nparked ${p.count}: RSS MB ${JSON.stringify(p.rssMb)}`);
    if (p.parkingOutcome !== 'done') {
      console.log(
        `NOT COMPARABLE: ${p.purchasesAwaitingCard} of ${p.count} purchases reached the card wait (${p.parkingOutcome}: ${p.parkingMessage})`,
      );
    }
    console.log(
      `growth MB: null worker ${fmt(p.growthMb.nullWorker)}, product worker ${fmt(p.growthMb.productWorker)} (${p.growthMb.nullWorker ? (p.growthMb.productWorker / p.growthMb.nullWorker).toFixed(2) : '—'}× null), Temporal ${fmt(p.growthMb.temporalDuringNull)} / ${fmt(p.growthMb.temporalDuringProduct)}`,
    );
    const steady = p.settledGrowthMb;
    if (steady)
      console.log(
        `growth MB settled (the memory goal's figure; a full GC, 10 s, the median of 5 reads): null worker ${fmt(steady.nullWorker)}, product worker ${fmt(steady.productWorker)} (${steady.nullWorker ? (steady.productWorker / steady.nullWorker).toFixed(2) : '—'}× null)`,
      );
    const collected = p.growthAfterGcMb;
    if (collected)
      console.log(
        `growth MB after a full GC: null worker ${fmt(collected.nullWorker)}, product worker ${fmt(collected.productWorker)} (${collected.nullWorker ? (collected.productWorker / collected.nullWorker).toFixed(2) : '—'}× null)`,
      );
    const heapText = (g: { main: number; threads: number[] } | null) =>
      g ? `main ${fmt(g.main, 1)}, workflow threads ${g.threads.map((t) => fmt(t, 1)).join(' + ')}` : '—';
    console.log(
      `V8 heap growth MB (used, after a full GC): null worker ${heapText(p.heapGrowthMb.nullWorker)}; product worker ${heapText(p.heapGrowthMb.productWorker)} (thread 1: purchases' task queue, 2: event deliveries')`,
    );
    if (p.heapSnapshots)
      console.log(`heap snapshots in test-results/heap/ (read with scripts/bench/heap-summary.ts)`);
  }
  // biome-ignore lint/suspicious/noExplicitAny: the JSON written above
  const c = results.crediting as any;
  if (c) {
    const ratio = c.pgbench
      ? `${(c.product.perSecond / c.pgbench.perSecond).toFixed(2)}× pgbench`
      : 'pgbench: —';
    console.log(
      `\ncrediting C=${c.clients}: product ${fmt(c.product.perSecond)}/s (p50 ${fmt(c.product.p50Ms, 1)} ms), pgbench ${fmt(c.pgbench?.perSecond)}/s (avg ${fmt(c.pgbench?.latencyAvgMs, 1)} ms): ${ratio}`,
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: the JSON written above
  const u = results.usage as any;
  if (u) {
    const ratio = u.pgbench
      ? `${(u.product.perSecond / u.pgbench.perSecond).toFixed(2)}× pgbench`
      : 'pgbench: —';
    console.log(
      `usage C=${u.clients}: product ${fmt(u.product.perSecond)}/s (p50 ${fmt(u.product.p50Ms, 1)} ms), pgbench ${fmt(u.pgbench?.perSecond)}/s (avg ${fmt(u.pgbench?.latencyAvgMs, 1)} ms): ${ratio}`,
    );
  }
}

main().catch(async (error) => {
  if (stopping) return;
  console.error(error);
  await shutdown(1);
});
