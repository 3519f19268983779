/**
 * `npm run soak -- [--temporal dev|server] [--purchases N] [--concurrency N] [--seed N] [--timeout-ms N]
 * [--workers N] [--kill-every-ms N] [--max-kills N] [--temporal-restarts 0|1] [--postgres-restarts 0|1]`
 *
 * A mix of purchases over HTTP (card on file, no card with the card added through Stripe and the webhook
 * delivered, declined, 3-D Secure passed or failed, canceled, refunded) on a stack of the soak's own
 * (options.ts: `--temporal dev`, the default, is STACK_DIR .stack/soak with the dev server persisting to
 * a SQLite file; `--temporal server` is .stack/soak-server with the Temporal server on the stack's
 * Postgres, docs/temporal-server.md; each on ports of its own), while worker processes
 * are SIGKILLed and restarted, Temporal and Postgres are each restarted mid-run (in server mode the
 * Temporal server process, which keeps its data in that same Postgres and must outlive its restart), and the Stripe emulator
 * answers 5xx, drops answers after the effect, stores 500s under the charge's key and duplicates,
 * delays and reorders webhooks (tools/stripe-emulator/chaos.ts, seeded). At the end every purchase must
 * be terminal and the invariant checker green; a report is printed and written to
 * test-results/soak.json. Exit 0 when both hold, 1 otherwise, 2 on bad flags. Loopback only; bounded
 * by --purchases and --timeout-ms. Stops everything it started, also on Ctrl-C and on errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/config';
import { createSql } from '../../src/db/client';
import { isTerminalPurchaseStatus, type PurchaseStatus } from '../../src/domain/purchase-states';
import { checkInvariants, type InvariantReport } from '../../src/invariants';
import { createStripe, createStripeAt } from '../../src/stripe/client';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';
import { seededRandom } from '../../tools/stripe-emulator/chaos';
import { PROJECT_ROOT, stackRoot, toolsBin } from '../stack/paths';
import { postgresCluster } from '../stack/postgres';
import { portOpen } from '../stack/processes';
import { stackDown, stackStatus, stackUp } from '../stack/stack';
import { temporal } from '../stack/temporal';
import { temporalServer } from '../stack/temporal-server';
import { ApiError, apiClient, retrying, type TransientCounts } from './http';
import { parseSoakOptions, SoakFlagError, type SoakOptions, soakEnv } from './options';

// ---- flags and the soak's own stack -------------------------------------------------------------

let options: SoakOptions;
try {
  options = parseSoakOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof SoakFlagError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const SOAK_ENV = soakEnv(options.temporal);
const sharedTools = toolsBin(loadConfig({ ...process.env, STACK_DIR: '.stack' }));
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ...SOAK_ENV,
  PATH: `${sharedTools}:${process.env.PATH}`,
};
for (const name of [
  'DATABASE_URL',
  'TEMPORAL_ADDRESS',
  'STRIPE_SECRET_KEY',
  'STRIPE_EMULATOR_STATE_FILE',
  'STRIPE_EMULATOR_WEBHOOK_URLS',
  // The caller's Temporal settings are not the soak's stack's.
  'TEMPORAL_SERVER_TLS',
  'TEMPORAL_HISTORY_SHARDS',
  'TEMPORAL_TLS_CA',
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_API_KEY',
])
  delete childEnv[name];
// The stack manager's components read this process's environment (ports, STACK_DIR) and find the
// Temporal CLI on PATH (the build shared with the other stacks).
for (const name of Object.keys(process.env)) if (!(name in childEnv)) delete process.env[name];
Object.assign(process.env, childEnv);
const config = loadConfig(childEnv);
const serverMode = options.temporal === 'server';
const serverLog = join(stackRoot(config), config.STACK_PROFILE, 'temporal-server', 'temporal-server.log');
/** The Temporal server's pid while it runs (server mode), else null. */
async function temporalServerPid(): Promise<number | null> {
  const { state, detail } = await temporalServer.status(config);
  return state === 'running' ? Number(detail.replace(/^pid /, '')) : null;
}
const logDir = join(stackRoot(config), 'logs');
const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ---- child processes: workers and the portal -----------------------------------------------------

interface Child {
  name: string;
  entry: string;
  process: ChildProcess | null;
  ready: boolean;
  startedAt: number;
  /** set just before we kill it, so its exit is not counted as unexpected */
  killing: boolean;
}
const children: Child[] = [];
const stats = {
  workerKills: 0,
  workerStarts: 0,
  temporalRestarts: 0,
  postgresRestarts: 0,
  /** exits we did not cause, per process name, each followed by a restart */
  unexpectedExits: {} as Record<string, number>,
};
let stackStarting: Promise<string[]> | undefined;
let stopping = false;

function spawnChild(child: Child): void {
  mkdirSync(logDir, { recursive: true });
  const out = createWriteStream(join(logDir, `${child.name}.log`), { flags: 'a' });
  const flags = child.entry === 'src/worker.ts' ? WORKER_NODE_FLAGS : []; // as `npm run worker` runs it
  const proc = spawn(process.execPath, [...flags, '--import', 'tsx', join(PROJECT_ROOT, child.entry)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv,
  });
  child.process = proc;
  child.ready = false;
  child.killing = false;
  child.startedAt = Date.now();
  proc.stdout?.on('data', (chunk: Buffer) => {
    out.write(chunk);
    if (!child.ready && chunk.toString('utf8').includes('"worker started"')) child.ready = true;
  });
  proc.stderr?.on('data', (chunk: Buffer) => out.write(chunk));
  proc.once('exit', (code, signal) => {
    out.end();
    if (child.process !== proc) return;
    child.process = null;
    child.ready = false;
    if (stopping) return;
    if (child.killing) {
      // One of our kills: started again half a second after it is gone.
      setTimeout(() => {
        if (stopping || child.process !== null) return;
        spawnChild(child);
        stats.workerStarts++;
      }, 500);
      return;
    }
    stats.unexpectedExits[child.name] = (stats.unexpectedExits[child.name] ?? 0) + 1;
    log(
      `${child.name} exited on its own (code ${code}, signal ${signal}); restarting it (its log: ${logDir})`,
    );
    setTimeout(() => {
      if (!stopping && child.process === null) spawnChild(child);
    }, 1_000);
  });
}

function addChild(name: string, entry: string): Child {
  const child: Child = { name, entry, process: null, ready: false, startedAt: 0, killing: false };
  children.push(child);
  spawnChild(child);
  return child;
}

async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  log('stopping what the soak started');
  const running = children.filter((c) => c.process && c.process.exitCode === null);
  const exits = running.map((c) => new Promise((resolve) => c.process?.once('exit', resolve)));
  for (const c of running) c.process?.kill('SIGTERM');
  await Promise.race([Promise.all(exits), sleep(config.WORKER_SHUTDOWN_GRACE_MS + 5_000)]);
  for (const c of running) if (c.process && c.process.exitCode === null) c.process.kill('SIGKILL');
  if (stackStarting) {
    const started = await stackStarting.catch(() => [] as string[]);
    if (started.length > 0) await stackDown(config, log, started);
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

// ---- the purchases -------------------------------------------------------------------------------

const kinds = [
  'card',
  'no_card',
  'declined',
  'three_ds_pass',
  'three_ds_fail',
  'canceled',
  'refunded',
] as const;
type Kind = (typeof kinds)[number];
/** Share of each kind in the mix, and the final state it must reach. */
const mix: Record<Kind, { weight: number; expected: PurchaseStatus }> = {
  card: { weight: 25, expected: 'completed' },
  no_card: { weight: 20, expected: 'completed' },
  declined: { weight: 10, expected: 'failed' },
  three_ds_pass: { weight: 10, expected: 'completed' },
  three_ds_fail: { weight: 5, expected: 'failed' },
  canceled: { weight: 10, expected: 'canceled' },
  refunded: { weight: 20, expected: 'refunded' },
};
const cardOnFile: Partial<Record<Kind, string>> = {
  card: 'pm_card_visa',
  declined: 'pm_card_chargeCustomerFail',
  three_ds_pass: 'pm_card_authenticationRequired',
  three_ds_fail: 'pm_card_authenticationRequired',
  refunded: 'pm_card_visa',
};

function planKinds(count: number, seed: number): Kind[] {
  const random = seededRandom(seed);
  const total = kinds.reduce((sum, k) => sum + mix[k].weight, 0);
  return Array.from({ length: count }, () => {
    let draw = random() * total;
    for (const k of kinds) {
      draw -= mix[k].weight;
      if (draw < 0) return k;
    }
    return 'card';
  });
}

interface PurchaseRecord {
  index: number;
  kind: Kind;
  purchaseId: string | null;
  /** the status the soak last saw over HTTP */
  seen: string | null;
  error: string | null;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const deadline = t0 + options.timeoutMs;
  // A fresh stack each run: wiped only when none of its components runs.
  const data = join(stackRoot(config), config.STACK_PROFILE);
  const status = await stackStatus(config);
  if (status.every((row) => row.state !== 'running') && existsSync(data)) {
    rmSync(data, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    log(`wiped ${data}`);
  }
  stackStarting = stackUp(config, log);
  await stackStarting;
  const stackUpMs = Date.now() - t0;

  // The portal's port must be free (the stack manager checks its components' ports itself).
  for (let waited = 0; await portOpen(config.BIND_HOST, config.PORTAL_PORT); waited += 1_000) {
    if (waited >= 30_000) throw new Error(`PORTAL_PORT ${config.PORTAL_PORT} is held by another process`);
    await sleep(1_000);
  }
  const workers = Array.from({ length: options.workers }, (_, i) =>
    addChild(`worker-${i + 1}`, 'src/worker.ts'),
  );
  addChild('portal', 'src/portal/server.ts');
  const readyBy = Date.now() + 180_000;
  const portalAnswers = () =>
    fetch(`${config.portalUrl}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
  while (!(workers.every((w) => w.ready) && (await portalAnswers()))) {
    if (Date.now() > readyBy)
      throw new Error(`the workers and the portal did not start within 180 s (logs: ${logDir})`);
    await sleep(500);
  }
  log(`stack up in ${(stackUpMs / 1000).toFixed(1)} s; ${workers.length} workers and the portal ready`);

  const transient: TransientCounts = { attempts: 0, retried: {}, gaveUp: 0 };
  const api = apiClient(config.portalUrl, transient, () => stopping).call;
  // The soak's own Stripe calls (what Stripe.js and a customer do) go through the same chaos.
  const stripe = createStripeAt(config.stripeEmulatorUrl, { timeoutMs: 20_000 });
  async function control(method: string, path: string, body?: unknown) {
    const response = await fetch(`${config.stripeEmulatorUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} /_emulator${path}: ${response.status} ${await response.text()}`);
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the control API
    return (await response.json()) as any;
  }

  // The world, before any fault: an organization, a credits plan, a pack.
  const setupDeadline = Date.now() + 60_000;
  const org = await api('POST', '/v1/organizations', config.PLATFORM_ADMIN_TOKEN, {
    body: { name: `Soak ${new Date().toISOString()}` },
    deadline: setupDeadline,
  });
  const apiKey = org.apiKey as string;
  const organizationId = org.organization.id as string;
  const plan = await api('POST', '/v1/plans', apiKey, {
    body: { name: 'Soak Pro', consumptionModel: 'credits', includedCredits: 0 },
    deadline: setupDeadline,
  });
  const pack = await api('POST', '/v1/credit-packs', apiKey, {
    body: { name: 'Soak Pack', credits: 500, price: 4000 },
    deadline: setupDeadline,
  });

  // Chaos on: 10 % 5xx before executing (not stored), 5 % answers dropped after the effect, 1 % stored
  // 500s on charges; webhooks duplicated (10 %), delayed up to 3 s (30 %), hence reordered.
  const chaos = {
    seed: options.seed,
    rules: [
      { name: '5xx_before', match: {}, rate: 0.1, action: { type: 'status', status: 503 } },
      { name: 'drop_after', match: {}, rate: 0.05, action: { type: 'drop_after' } },
      {
        name: 'stored_500_charge',
        match: { method: 'POST', pathRegex: '^/v1/payment_intents$' },
        rate: 0.01,
        action: { type: 'stored_error' },
      },
    ],
    webhooks: { duplicateRate: 0.1, delayRate: 0.3, maxDelayMs: 3_000 },
  };
  await control('POST', '/chaos', chaos);
  log(
    `chaos on (seed ${options.seed}); ${options.purchases} purchases over ${options.concurrency} lanes, ` +
      `timeout ${options.timeoutMs} ms`,
  );

  const lanesStart = Date.now();
  const mixOfRun = planKinds(options.purchases, options.seed);
  const records: PurchaseRecord[] = mixOfRun.map((kind, index) => ({
    index,
    kind,
    purchaseId: null,
    seen: null,
    error: null,
  }));
  const runTag = `${options.seed}-${t0.toString(36)}`;
  let started = 0;
  let finished = 0;
  const cancelRefusals: { purchaseId: string | null; message: string }[] = [];

  async function customerFor(r: PurchaseRecord): Promise<{ id: string; token: string }> {
    const email = `soak-${runTag}-${r.index}@example.test`;
    const extra: Record<string, string> = {};
    const token = cardOnFile[r.kind];
    if (token) {
      const key = `soak-${runTag}-${r.index}`;
      const sc = await retrying('stripe customer', transient, deadline, () =>
        stripe.customers.create({ email }, { idempotencyKey: `${key}:customer` }),
      );
      const pm = await retrying('attach card', transient, deadline, () =>
        stripe.paymentMethods.attach(token, { customer: sc.id }, { idempotencyKey: `${key}:attach` }),
      );
      await retrying('default card', transient, deadline, () =>
        stripe.customers.update(
          sc.id,
          { invoice_settings: { default_payment_method: pm.id } },
          { idempotencyKey: `${key}:default` },
        ),
      );
      extra.stripeCustomerId = sc.id;
      extra.defaultPaymentMethodId = pm.id;
    }
    const customer = await api('POST', '/v1/customers', apiKey, {
      body: { email, name: `Soak ${r.kind}`, ...extra },
      deadline,
    });
    await api('POST', '/v1/subscriptions', apiKey, {
      body: { customerId: customer.id, planId: plan.id, status: 'active' },
      deadline,
    }).catch((error: unknown) => {
      // A retry of a subscription the first attempt made.
      if (!(error instanceof ApiError && error.code === 'subscription_exists')) throw error;
    });
    const session = await api('POST', '/v1/portal-sessions', apiKey, {
      body: { customerId: customer.id },
      deadline,
    });
    return { id: customer.id, token: session.token };
  }

  /** Polls the purchase until it is `status` or terminal; answers what it is then. */
  async function until(who: { token: string }, r: PurchaseRecord, status: string | null) {
    for (;;) {
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API
      const p: any = await api('GET', `/v1/portal/purchases/${r.purchaseId}`, who.token, { deadline });
      r.seen = p.status;
      // Completed is terminal, but a refunded purchase passes through it.
      const settled =
        isTerminalPurchaseStatus(p.status) && !(status === 'refunded' && p.status === 'completed');
      if (p.status === status || settled) return p;
      if (Date.now() > deadline || stopping) throw new Error(`still ${p.status} at the deadline`);
      await sleep(400);
    }
  }

  async function runOne(r: PurchaseRecord): Promise<void> {
    const who = await customerFor(r);
    const key = `soak-${runTag}-${r.index}`;
    const answer = await api('POST', '/v1/portal/purchases', who.token, {
      body: { creditPackId: pack.id },
      idempotencyKey: key,
      deadline,
    });
    r.purchaseId = answer.id;
    r.seen = answer.status;
    started++;
    const intentOf = (p: { nextAction?: { clientSecret?: string } }) =>
      (p.nextAction?.clientSecret ?? '').split('_secret_')[0] ?? '';
    switch (r.kind) {
      case 'no_card': {
        const p = await until(who, r, 'awaiting_payment_method');
        if (p.status !== 'awaiting_payment_method') return;
        // What Stripe.js does in the browser: a PaymentMethod from the number, then the SetupIntent
        // confirmed on Stripe; the product learns it from the webhook (or its re-read of Stripe).
        const pm = await control('POST', '/payment_methods', { number: '4242424242424242' });
        await retrying(
          'confirm SetupIntent',
          transient,
          deadline,
          () =>
            stripe.setupIntents.confirm(
              intentOf(p),
              { payment_method: pm.id },
              { idempotencyKey: `${key}:confirm` },
            ),
          (error) => (error as { statusCode?: number }).statusCode === 400,
        );
        break;
      }
      case 'three_ds_pass':
      case 'three_ds_fail': {
        const p = await until(who, r, 'requires_action');
        if (p.status !== 'requires_action') return;
        // The customer back on-session (what Stripe.js confirmCardPayment does): the PaymentIntent the
        // off-session attempt left needing a payment method is confirmed with its card, then 3-D Secure
        // is passed or failed (the emulator's control route: no chaos). The product learns it from the
        // webhook (or its re-read of Stripe).
        const intentId = intentOf(p);
        let intent = await retrying('read PaymentIntent', transient, deadline, () =>
          stripe.paymentIntents.retrieve(intentId),
        );
        if (intent.status === 'requires_payment_method' || intent.status === 'requires_confirmation') {
          const last = intent.last_payment_error?.payment_method;
          const card =
            (typeof last === 'string' ? last : last?.id) ??
            (typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id);
          intent = await retrying('confirm on-session', transient, deadline, () =>
            stripe.paymentIntents.confirm(
              intentId,
              { payment_method: card ?? undefined },
              { idempotencyKey: `${key}:confirm-on-session` },
            ),
          );
        }
        if (intent.status === 'requires_action') {
          await control('POST', `/payment_intents/${intentId}/authenticate`, {
            outcome: r.kind === 'three_ds_pass' ? 'succeed' : 'fail',
          });
        }
        break;
      }
      case 'canceled': {
        const p = await until(who, r, 'awaiting_payment_method');
        if (p.status !== 'awaiting_payment_method') return;
        await api('POST', `/v1/portal/purchases/${r.purchaseId}/cancel`, who.token, { deadline }).catch(
          (error: unknown) => {
            // A retried cancel whose first attempt went through (its answer lost to a restart) is
            // refused; what the purchase became is read below either way.
            if (!(error instanceof ApiError && error.code === 'purchase_not_cancelable')) throw error;
            cancelRefusals.push({ purchaseId: r.purchaseId, message: error.message });
          },
        );
        break;
      }
      case 'refunded': {
        const p = await until(who, r, 'completed');
        if (p.status !== 'completed') return;
        await api('POST', `/v1/purchases/${r.purchaseId}/refunds`, apiKey, {
          body: {},
          idempotencyKey: `${key}:refund`,
          deadline,
        });
        await until(who, r, 'refunded');
        return;
      }
      default:
        break;
    }
    await until(who, r, null);
  }

  // ---- the faults of the processes: worker kills, a Temporal and a Postgres restart ----------------
  let lanesDone = false;
  const restartsDone = { temporal: options.temporalRestarts === 0, postgres: options.postgresRestarts === 0 };
  const restartLog: { what: string; at: number; downMs: number; temporalServerPid?: unknown }[] = [];
  // In server mode "Temporal" is the Temporal server process (its data stays in the stack's Postgres).
  const temporalComponent = serverMode ? temporalServer : temporal;
  let restartingTemporal = false;
  async function restart(what: 'temporal' | 'postgres'): Promise<void> {
    const component = what === 'temporal' ? temporalComponent : postgresCluster;
    const at = Date.now();
    log(`restarting ${what} (${started}/${options.purchases} purchases started)`);
    const serverBefore = serverMode && what === 'postgres' ? await temporalServerPid() : undefined;
    if (what === 'temporal') restartingTemporal = true;
    try {
      await component.down(config, log);
      await sleep(2_000);
      await component.up(config, log);
    } finally {
      restartingTemporal = false;
    }
    const entry: (typeof restartLog)[number] = { what, at: at - t0, downMs: Date.now() - at };
    if (serverBefore !== undefined) {
      // The Temporal server shares the restarted cluster: it must still be the same process, and serving.
      const after = await temporalServerPid();
      entry.temporalServerPid = { before: serverBefore, after };
      log(
        after !== null && after === serverBefore
          ? `the Temporal server (pid ${after}) outlived the Postgres restart`
          : `the Temporal server did not outlive the Postgres restart (pid ${serverBefore} → ${after})`,
      );
    }
    restartLog.push(entry);
    if (what === 'temporal') stats.temporalRestarts++;
    else stats.postgresRestarts++;
  }
  /**
   * Server mode: a Temporal server that exits when the soak did not stop it (say, as Postgres restarts
   * under it) is counted as an unexpected exit, which fails the soak, and started again as a supervisor
   * would, so the run goes on and says what else broke.
   */
  let lastServerCheck = 0;
  async function watchTemporalServer(): Promise<void> {
    if (!serverMode || restartingTemporal || Date.now() - lastServerCheck < 2_000) return;
    lastServerCheck = Date.now();
    if ((await temporalServerPid()) !== null) return;
    stats.unexpectedExits['temporal-server'] = (stats.unexpectedExits['temporal-server'] ?? 0) + 1;
    log(`the Temporal server exited on its own; starting it again (its log: ${serverLog})`);
    await temporalServer.up(config, log).catch((error: unknown) => {
      log(`the Temporal server did not start again: ${(error as Error).message}`);
    });
  }
  const chaosLoop = (async () => {
    let lastKill = Date.now();
    let next = 0;
    while (!lanesDone && !stopping) {
      await sleep(250);
      await watchTemporalServer();
      const share = started / options.purchases;
      if (!restartsDone.temporal && share >= 0.3) {
        restartsDone.temporal = true;
        await restart('temporal');
      }
      if (!restartsDone.postgres && share >= 0.6) {
        restartsDone.postgres = true;
        await restart('postgres');
      }
      const killsLeft = options.maxKills === 0 || stats.workerKills < options.maxKills;
      if (!killsLeft || Date.now() - lastKill < options.killEveryMs) continue;
      // The next worker in turn that is up and polling, while another one is too (one that is still
      // starting is left alone: with every worker starting, nothing would run the purchases at all).
      const victim = workers[next % workers.length];
      if (!victim?.ready || !victim.process) continue;
      if (workers.length > 1 && !workers.some((w) => w !== victim && w.ready)) continue;
      next++;
      lastKill = Date.now();
      victim.killing = true;
      victim.process.kill('SIGKILL');
      stats.workerKills++;
      log(`SIGKILLed ${victim.name} (kill ${stats.workerKills}; ${finished}/${options.purchases} done)`);
    }
  })();

  // ---- the lanes -----------------------------------------------------------------------------------
  let nextIndex = 0;
  const progress = setInterval(() => {
    log(
      `${finished}/${options.purchases} purchases done, ${started} started; retried ${JSON.stringify(transient.retried)}`,
    );
  }, 15_000);
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (nextIndex < records.length && Date.now() < deadline && !stopping) {
        const r = records[nextIndex++] as PurchaseRecord;
        try {
          await runOne(r);
        } catch (error) {
          r.error = (error as Error).message;
          log(
            `purchase ${r.index} (${r.kind}, ${r.purchaseId ?? 'not checked out'}): ${r.error.slice(0, 300)}`,
          );
        }
        finished++;
      }
    }),
  );
  clearInterval(progress);
  lanesDone = true;
  await chaosLoop;
  const lanesMs = Date.now() - lanesStart;
  log(`lanes done in ${(lanesMs / 1000).toFixed(1)} s; chaos off, reading the outcome`);
  const chaosState = await control('GET', '/chaos');
  await control('DELETE', '/chaos');
  // Charges that met a stored 500 and went on under the next derived key (`<purchaseId>:charge:2`, …).
  const keys: { key: string }[] = (await control('GET', '/idempotency')).keys ?? [];
  const nextChargeKeys = keys.filter((k) => /:charge:\d+$/.test(k.key)).map((k) => k.key);

  // ---- the outcome, from the business record -------------------------------------------------------
  const sql = createSql(config.databaseUrl, { maxConnections: 4, applicationName: 'soak' });
  try {
    const ids = records.map((r) => r.purchaseId).filter((id): id is string => id !== null);
    // Purchases a lane left behind (its deadline) still get until the soak's own deadline to settle.
    const readStatuses = async () =>
      new Map(
        (
          await sql<{ id: string; status: PurchaseStatus }[]>`
            select id, status from purchases where organization_id = ${organizationId}`
        ).map((row) => [row.id, row.status]),
      );
    let statuses = await readStatuses();
    while (
      [...statuses.values()].some((s) => !isTerminalPurchaseStatus(s)) &&
      Date.now() < deadline &&
      !stopping
    ) {
      await sleep(1_000);
      statuses = await readStatuses();
      const open = [...statuses.values()].filter((st) => !isTerminalPurchaseStatus(st));
      if (Date.now() % 15_000 < 1_000)
        log(`waiting for ${open.length} purchases to settle: ${open.join(', ')}`);
    }
    const finalStates: Record<string, number> = {};
    for (const s of statuses.values()) finalStates[s] = (finalStates[s] ?? 0) + 1;
    const nonTerminal = [...statuses.entries()].filter(([, s]) => !isTerminalPurchaseStatus(s));
    const byKind: Record<string, Record<string, number>> = {};
    const unexpected: { purchaseId: string | null; kind: Kind; expected: string; got: string | null }[] = [];
    for (const r of records) {
      const got = r.purchaseId ? (statuses.get(r.purchaseId) ?? null) : null;
      const row = byKind[r.kind] ?? {};
      const label = got ?? (r.purchaseId ? 'missing' : 'not_checked_out');
      row[label] = (row[label] ?? 0) + 1;
      byKind[r.kind] = row;
      if (got !== mix[r.kind].expected)
        unexpected.push({ purchaseId: r.purchaseId, kind: r.kind, expected: mix[r.kind].expected, got });
    }
    const missing = ids.filter((id) => !statuses.has(id));

    const checkStripe = createStripe(config, { maxNetworkRetries: 5 });
    const invariants: InvariantReport = await checkInvariants(
      { sql, stripe: checkStripe },
      {
        organizationId,
        purchaseDeadlineMs:
          config.CARD_WAIT_TIMEOUT_MS +
          config.AUTHENTICATION_WAIT_TIMEOUT_MS +
          config.PURCHASE_SETTLE_GRACE_MS,
      },
    );
    const totalMs = Date.now() - t0;
    // Server mode: the Temporal server may not have exited on its own (it is restarted, but counted).
    const temporalServerExits = stats.unexpectedExits['temporal-server'] ?? 0;
    const ok =
      nonTerminal.length === 0 &&
      missing.length === 0 &&
      invariants.violations.length === 0 &&
      ids.length === options.purchases &&
      temporalServerExits === 0;
    const report = {
      ok,
      temporal: options.temporal,
      date: new Date(t0).toISOString(),
      options,
      env: SOAK_ENV,
      timeMs: { total: totalMs, stackUp: stackUpMs, lanes: lanesMs },
      purchases: {
        planned: options.purchases,
        checkedOut: ids.length,
        finalStates,
        byKind,
        nonTerminal: nonTerminal.map(([id, s]) => ({ id, status: s })),
        missing,
        unexpected,
        cancelRefusals,
        errors: records
          .filter((r) => r.error)
          .map((r) => ({
            index: r.index,
            kind: r.kind,
            purchaseId: r.purchaseId,
            seen: r.seen,
            error: r.error,
          })),
      },
      kills: {
        ...stats,
        restarts: restartLog,
        workersUpAtEnd: workers.filter((w) => w.process !== null).length,
      },
      faults: { ...chaosState.counters, nextChargeKeys },
      http: transient,
      invariants: {
        purchasesChecked: invariants.purchasesChecked,
        customersChecked: invariants.customersChecked,
        violations: invariants.violations,
        reviews: invariants.reviews,
      },
    };
    mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
    const file = join(PROJECT_ROOT, 'test-results', 'soak.json');
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

    const line = (label: string, value: unknown) =>
      console.log(`  ${label.padEnd(22)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    console.log('\nSoak report');
    line(
      'temporal',
      serverMode
        ? `server (${config.temporalAddress}, history shards ${config.TEMPORAL_HISTORY_SHARDS})`
        : 'dev server',
    );
    line('purchases', `${ids.length} checked out of ${options.purchases} planned (seed ${options.seed})`);
    line('final states', finalStates);
    line('by kind', byKind);
    line(
      'non-terminal',
      nonTerminal.length === 0 ? 'none' : nonTerminal.map(([id, s]) => `${id} ${s}`).join(', '),
    );
    line('unexpected outcomes', unexpected.length === 0 ? 'none' : unexpected.slice(0, 10));
    line('lane errors', report.purchases.errors.length === 0 ? 'none' : report.purchases.errors.slice(0, 5));
    line(
      'worker kills survived',
      `${stats.workerKills} SIGKILLs of ${options.workers} workers (${stats.workerStarts} restarts, ${report.kills.workersUpAtEnd} up at the end)`,
    );
    line(
      'restarts',
      `Temporal ${stats.temporalRestarts}, Postgres ${stats.postgresRestarts}; unexpected exits ${JSON.stringify(stats.unexpectedExits)}`,
    );
    line('faults injected', chaosState.counters);
    line('next charge keys', nextChargeKeys.length === 0 ? 'none' : nextChargeKeys);
    line('HTTP retries', {
      attempts: transient.attempts,
      retried: transient.retried,
      gaveUp: transient.gaveUp,
    });
    line(
      'invariants',
      invariants.violations.length === 0
        ? `green (${invariants.purchasesChecked} purchases, ${invariants.customersChecked} customers)`
        : invariants.violations,
    );
    line(
      'time',
      `${(totalMs / 1000).toFixed(1)} s (stack ${(stackUpMs / 1000).toFixed(1)} s, lanes ${(lanesMs / 1000).toFixed(1)} s)`,
    );
    line('report', file);
    console.log(ok ? '\nSOAK PASSED' : '\nSOAK FAILED');
    return ok ? 0 : 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().then(
  (code) => shutdown(code),
  (error: unknown) => {
    console.error(`[soak] failed: ${(error as Error).stack ?? String(error)}`);
    void shutdown(1);
  },
);
