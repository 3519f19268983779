import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { stackDown, stackUp } from '../../scripts/stack/stack';
import { makeCa, makeCertificate } from '../../scripts/stack/temporal-server';
import { type Config, loadConfig } from '../../src/config';
import { createSql, type Sql } from '../../src/db/client';
import { createStripe } from '../../src/stripe/client';
import { connectClient } from '../../src/temporal/client';
import { databaseNow, expectInvariantsHold } from '../support/invariants';
import { SERVER_MODE_ENV } from '../support/server-mode-env';
import { waitFor } from '../support/wait';

/**
 * The purchase against production-shaped Temporal (TEMPORAL_MODE=server): a stack of its own (STACK_DIR
 * .stack/server: the Temporal server 1.29.1 on Postgres with mTLS on its frontend, certificates made by
 * the stack, the UI, the emulator), two worker processes (`src/worker.ts`) on one task queue and the portal
 * process, driven over HTTP only: a card added then on file, a decline, 3-D Secure, a cancel, and eight
 * purchases at once spread over both workers; then the invariant checker. A client certificate of
 * another CA is refused, and said so. The first run builds the server, its SQL tool and the UI (Go).
 */
for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_SECRET_KEY', 'STRIPE_EMULATOR_STATE_FILE']) {
  delete process.env[name];
}
// The stack's components read this process's environment (the emulator's port, the stack folder).
Object.assign(process.env, SERVER_MODE_ENV);
const config: Config = loadConfig(process.env);
const log = (line: string) => console.log(`[server-mode] ${line}`);

interface Child {
  name: string;
  process: ChildProcess;
  lines: Record<string, unknown>[];
  output: string[];
}
const children: Child[] = [];
let started: string[] = [];
let sql: Sql;
let since: Date;
const timings: Record<string, number> = {};
/** The organization of each test's purchases, for the visibility queries. */
const orgs: Record<string, string> = {};

function spawnChild(name: string, entry: string, env: Record<string, string>): Child {
  const child: Child = {
    name,
    process: spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, entry)], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    lines: [],
    output: [],
  };
  let pending = '';
  child.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) {
      child.output.push(line);
      try {
        child.lines.push(JSON.parse(line));
      } catch {
        // not JSON
      }
    }
  });
  child.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => child.output.push(chunk));
  children.push(child);
  return child;
}

beforeAll(async () => {
  let t = Date.now();
  started = await stackUp(config, log);
  timings.stackUpMs = Date.now() - t;
  sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'server-mode-test' });
  since = await databaseNow(sql);
  t = Date.now();
  const workers = [0, 1].map((i) =>
    spawnChild(`worker-${i + 1}`, 'src/worker.ts', { METRICS_PORT: String(config.METRICS_PORT + i) }),
  );
  const portal = spawnChild('portal', 'src/portal/server.ts', {});
  await waitFor(
    () =>
      workers.every((w) => w.lines.some((l) => l.msg === 'worker started') || w.process.exitCode !== null),
    'both worker processes to start',
    120_000,
  );
  for (const w of workers) {
    if (w.process.exitCode !== null) throw new Error(`${w.name} exited:\n${w.output.join('\n')}`);
  }
  await waitFor(
    async () => (await fetch(`${config.portalUrl}/healthz`).catch(() => null))?.ok === true,
    'the portal to answer',
    60_000,
  );
  if (portal.process.exitCode !== null) throw new Error(`portal exited:\n${portal.output.join('\n')}`);
  timings.processesMs = Date.now() - t;
}, 20 * 60_000);

afterAll(async () => {
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  await Promise.race([
    Promise.all(
      children.map(
        (c) => new Promise((r) => (c.process.exitCode !== null ? r(null) : c.process.once('exit', r))),
      ),
    ),
    new Promise((r) => setTimeout(r, 15_000)),
  ]);
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  await sql?.end({ timeout: 5 });
  if (process.env.KEEP_TEST_STACK !== '1') await stackDown(config, log, started);
  log(`timings ${JSON.stringify(timings)}`);
}, 120_000);

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read by the assertions
type Json = Record<string, any>;

async function api(method: string, path: string, token: string, body?: unknown, key?: string): Promise<Json> {
  const response = await fetch(`${config.portalUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await response.json()) as Json;
  if (!answer.success)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer.error)}`);
  return answer.data;
}

/** A new organization with a credits plan and a pack, and a customer with a portal session. */
async function shop() {
  const org = await api('POST', '/v1/organizations', config.PLATFORM_ADMIN_TOKEN, {
    name: `server-mode ${randomUUID()}`,
  });
  const key = org.apiKey as string;
  const plan = await api('POST', '/v1/plans', key, {
    name: 'Free',
    consumptionModel: 'credits',
    isFree: true,
    includedCredits: 0,
  });
  const pack = await api('POST', '/v1/credit-packs', key, {
    name: 'Power Pack',
    description: '500 credits',
    credits: 500,
    price: 4000,
  });
  const customer = async (name: string) => {
    const c = await api('POST', '/v1/customers', key, { email: `${name}-${randomUUID()}@example.com`, name });
    await api('POST', '/v1/subscriptions', key, { customerId: c.id, planId: plan.id, status: 'active' });
    const session = await api('POST', '/v1/portal-sessions', key, { customerId: c.id });
    return { id: c.id as string, token: session.token as string };
  };
  return { orgId: org.organization.id as string, packId: pack.id as string, customer };
}

const SETTLED = ['completed', 'failed', 'canceled', 'refunded'];

/**
 * Checks out one pack and carries the purchase as the portal page would: a test card when it asks for
 * one, 3-D Secure passed when it asks for that. Returns the settled purchase.
 */
async function buy(
  token: string,
  packId: string,
  { card = '4242424242424242', cancel = false }: { card?: string; cancel?: boolean } = {},
): Promise<Json> {
  let purchase = await api(
    'POST',
    '/v1/portal/purchases',
    token,
    { creditPackId: packId, quantity: 1 },
    randomUUID(),
  );
  if (cancel) return api('POST', `/v1/portal/purchases/${purchase.id}/cancel`, token);
  let cardGiven = false;
  const handled = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (!SETTLED.includes(purchase.status)) {
    if (Date.now() > deadline) throw new Error(`purchase ${purchase.id} still ${purchase.status}`);
    const secret: string | undefined = purchase.nextAction?.clientSecret;
    const intent = secret?.split('_secret_')[0];
    if (purchase.status === 'awaiting_payment_method' && intent?.startsWith('seti_') && !cardGiven) {
      cardGiven = true;
      const confirmed = await api('POST', `/v1/portal/test-mode/setup-intents/${intent}/confirm`, token, {
        card,
      });
      if (confirmed.requiresAction) {
        await api('POST', `/v1/portal/test-mode/setup-intents/${intent}/authenticate`, token, {
          outcome: 'succeed',
        });
      }
    } else if (purchase.status === 'requires_action' && intent?.startsWith('pi_') && !handled.has(intent)) {
      handled.add(intent);
      await api('POST', `/v1/portal/test-mode/payment-intents/${intent}/authenticate`, token, {
        outcome: 'succeed',
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    purchase = await api('GET', `/v1/portal/purchases/${purchase.id}`, token);
  }
  return purchase;
}

describe('purchases on the Temporal server (SQL persistence and visibility, mTLS, two workers)', () => {
  it('a card added, then the same card on file: both completed, credited once each', async () => {
    const t = Date.now();
    const { orgId, packId, customer } = await shop();
    orgs.card = orgId;
    const alice = await customer('alice');
    expect(await buy(alice.token, packId)).toMatchObject({ status: 'completed' });
    expect(await buy(alice.token, packId)).toMatchObject({ status: 'completed' });
    const balance = await api('GET', '/v1/portal/balance', alice.token);
    expect(balance.purchasedCredits).toBe(1000);
    timings.cardMs = Date.now() - t;
  });

  it('a declined card fails, 3-D Secure passed completes, a canceled purchase charges nothing', async () => {
    const t = Date.now();
    const { orgId, packId, customer } = await shop();
    orgs.paths = orgId;
    const [grace, heidi, dave] = await Promise.all([customer('grace'), customer('heidi'), customer('dave')]);
    const [declined, secure, canceled] = await Promise.all([
      buy(grace.token, packId, { card: '4000000000000341' }),
      buy(heidi.token, packId, { card: '4000002760003184' }),
      buy(dave.token, packId, { cancel: true }),
    ]);
    expect(declined).toMatchObject({ status: 'failed', failure: { code: 'card_declined' } });
    expect(secure).toMatchObject({ status: 'completed' });
    expect(canceled).toMatchObject({ status: 'canceled' });
    expect((await api('GET', '/v1/portal/balance', grace.token)).purchasedCredits).toBe(0);
    expect((await api('GET', '/v1/portal/balance', heidi.token)).purchasedCredits).toBe(500);
    timings.pathsMs = Date.now() - t;
  });

  it('eight purchases at once all complete, the work spread over both worker processes', async () => {
    const t = Date.now();
    const { orgId, packId, customer } = await shop();
    orgs.concurrent = orgId;
    const buyers = await Promise.all(Array.from({ length: 8 }, (_, i) => customer(`buyer${i}`)));
    const before = children.filter((c) => c.name.startsWith('worker')).map((w) => w.lines.length);
    const results = await Promise.all(buyers.map((b) => buy(b.token, packId)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill('completed'));
    const workers = children.filter((c) => c.name.startsWith('worker'));
    const activities = workers.map(
      (w, i) => w.lines.slice(before[i]).filter((l) => typeof l.activityId === 'string').length,
    );
    log(`activity log lines per worker: ${activities.join(', ')}`);
    for (const count of activities) expect(count).toBeGreaterThan(0);
    timings.concurrentMs = Date.now() - t;
  });

  it('the purchases are filterable by their search attributes in SQL visibility', async () => {
    const client = await connectClient(config);
    const count = async (org: string | undefined, status: string) =>
      Number(
        (
          await client.workflow.count(
            `CreditPackOrganizationId = "${org}" AND CreditPackPurchaseStatus = "${status}"`,
          )
        ).count,
      );
    try {
      // Visibility is written after the workflow's own record, so it may lag a moment; polled gently
      // (the frontend limits visibility requests per namespace).
      const expected = {
        card: ['completed', 2],
        concurrent: ['completed', 8],
        paths: ['canceled', 1],
      } as const;
      let seen: number[] = [];
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        seen = [];
        for (const [test, [status]] of Object.entries(expected)) seen.push(await count(orgs[test], status));
        if (
          seen.join() ===
          Object.values(expected)
            .map(([, n]) => n)
            .join()
        )
          break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(seen).toEqual([2, 8, 1]);
      expect(await count(orgs.paths, 'completed')).toBe(1);
      expect(await count(orgs.paths, 'failed')).toBe(1);
    } finally {
      await client.connection.close();
    }
  });

  it('keeps its workflows and search attributes across a stop and start of the server', async () => {
    const t = Date.now();
    await stackDown(config, log, ['temporal-ui', 'temporal-server']);
    const restarted = await stackUp(config, log);
    expect(restarted).toEqual(['temporal-server', 'temporal-ui']);
    for (const name of restarted) if (!started.includes(name)) started.push(name);
    timings.restartMs = Date.now() - t;
    const client = await connectClient(config);
    try {
      const query = `CreditPackOrganizationId = "${orgs.concurrent}" AND CreditPackPurchaseStatus = "completed"`;
      expect((await client.workflow.count(query)).count).toBe(8);
      // The workers reconnect by themselves: a purchase after the restart completes.
      const { packId, customer } = await shop();
      const buyer = await customer('after-restart');
      expect(await buy(buyer.token, packId)).toMatchObject({ status: 'completed' });
    } finally {
      await client.connection.close();
    }
  }, 180_000);

  it('refuses a client certificate of another CA, saying so', async () => {
    const dir = join(PROJECT_ROOT, config.STACK_DIR, 'test', 'intruder');
    const { ca, caKey } = makeCa(dir, 'other-ca', 'another CA');
    const { cert, key } = makeCertificate(dir, 'intruder', {
      ca,
      caKey,
      commonName: 'intruder',
      usage: 'clientAuth',
    });
    const intruder = loadConfig({ ...process.env, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key });
    await expect(connectClient(intruder)).rejects.toThrow(
      `Temporal at ${config.temporalAddress} refused the TLS connection: the server refused the client certificate ${cert} (TEMPORAL_TLS_CERT): it is not signed by a CA the server trusts for clients`,
    );
  }, 30_000);

  it('the money invariants hold over these purchases', async () => {
    await expectInvariantsHold({ sql, stripe: createStripe(config) }, since);
  });
});
