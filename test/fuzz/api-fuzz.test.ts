// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchemathesis, type FuzzReport, runSchemathesis } from '../../scripts/fuzz/schemathesis';
import { createSql, type Sql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { createStripeAt } from '../../src/stripe/client';
import { type StripeEmulatorHandle, startStripeEmulator } from '../../tools/stripe-emulator/index';
import { testConfig } from '../support/config';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestTemporal } from '../support/worker';

/**
 * The API fuzzed from its own /openapi.json (docs/security.md#the-fuzz): schemathesis sends valid and
 * invalid bodies, query strings, headers and ids to every operation, with each of the three credentials.
 * Goals: no 5xx, every answer in the envelope, and a run of only invalid requests changes nothing (the
 * organization's admin lists, the balances and the Stripe account are equal before and after).
 *
 * The real portal (listening) and a worker of its own on the test stack's Postgres and Temporal, and a
 * Stripe emulator of this file's own, so its whole account can be compared.
 * Fixed seed; FUZZ_MAX_EXAMPLES raises the number of cases per operation for a longer run.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const MAX_EXAMPLES = Number(process.env.FUZZ_MAX_EXAMPLES ?? 6);
/** Only the operations whose path matches (a regular expression), to chase a finding. */
const ONLY_PATHS = process.env.FUZZ_PATH_REGEX;
let config = testConfig();

let st: string;
let emulator: StripeEmulatorHandle;
let sql: Sql;
let temporal: TestTemporal;
let app: FastifyInstance;
let base: string;
const credentials = {} as { platform: string; apiKey: string; portal: string };
const fixtures = {} as { customerIds: string[] };

async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(path === '/v1/portal/purchases' && method === 'POST' ? { 'idempotency-key': randomUUID() } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await response.json()) as any;
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(answer)}`);
  return answer.data;
}

beforeAll(async () => {
  st = ensureSchemathesis();
  emulator = await startStripeEmulator({ host: '127.0.0.1', port: 0 });
  sql = createSql(config.databaseUrl, { maxConnections: 4, applicationName: 'fuzz-test' });
  temporal = await startTestWorker(config, sql, createStripeAt(emulator.url));
  config = testConfig({ TEMPORAL_TASK_QUEUE: temporal.taskQueue });
  app = await buildApp({
    config,
    sql,
    temporal: temporal.client,
    logger: false,
    stripe: createStripeAt(emulator.url),
    checkoutWaitMs: 50,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  // Fixtures: an organization with a plan, a pack, two customers (one linked to a Stripe customer with a
  // card), a subscription, a portal session and a purchase, so the snapshot has something to change.
  credentials.platform = config.PLATFORM_ADMIN_TOKEN;
  const org = await api('POST', '/v1/organizations', credentials.platform, { name: `Fuzz ${randomUUID()}` });
  credentials.apiKey = org.apiKey;
  const plan = await api('POST', '/v1/plans', org.apiKey, { name: 'Pro', consumptionModel: 'credits' });
  const pack = await api('POST', '/v1/credit-packs', org.apiKey, {
    name: 'Fuzz pack',
    credits: 100,
    price: 900,
  });
  const stripe = createStripeAt(emulator.url);
  const email = `fuzz-${randomUUID().slice(0, 8)}@example.test`;
  const stripeCustomer = await stripe.customers.create({ email });
  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: stripeCustomer.id });
  await stripe.customers.update(stripeCustomer.id, { invoice_settings: { default_payment_method: card.id } });
  const linked = await api('POST', '/v1/customers', org.apiKey, {
    email,
    name: 'Linked',
    stripeCustomerId: stripeCustomer.id,
  });
  const plain = await api('POST', '/v1/customers', org.apiKey, { email: `p${email}`, name: 'Plain' });
  fixtures.customerIds = [linked.id, plain.id];
  await api('POST', '/v1/subscriptions', org.apiKey, { customerId: linked.id, planId: plan.id });
  credentials.portal = (
    await api('POST', '/v1/portal-sessions', org.apiKey, { customerId: linked.id })
  ).token;
  const purchase = await api('POST', '/v1/portal/purchases', credentials.portal, { creditPackId: pack.id });
  await waitFor(
    async () =>
      (await api('GET', `/v1/portal/purchases/${purchase.id}`, credentials.portal)).status === 'completed',
    'the fixture purchase to complete',
    30_000,
  );
}, 300_000);

afterAll(async () => {
  await app?.close();
  await temporal?.close();
  await sql?.end({ timeout: 5 });
  await emulator?.close();
});

/** What a refused request must not change: the organization's lists and balances, and Stripe's account. */
async function snapshot(): Promise<unknown> {
  const key = credentials.apiKey;
  const lists = Object.fromEntries(
    await Promise.all(
      [
        '/v1/plans',
        '/v1/credit-packs?archived=true',
        '/v1/credit-packs?archived=false',
        '/v1/customers',
        '/v1/subscriptions',
        '/v1/purchases',
        '/v1/webhook-endpoints',
        '/v1/events',
      ].map(async (path) => [path, await api('GET', path, key)]),
    ),
  );
  const balances = await Promise.all(
    fixtures.customerIds.map((id) => api('GET', `/v1/customers/${id}/balance`, key)),
  );
  const portal = {
    me: await api('GET', '/v1/portal/me', credentials.portal),
    purchases: await api('GET', '/v1/portal/purchases', credentials.portal),
    balance: await api('GET', '/v1/portal/balance', credentials.portal),
  };
  const [organizations] = await sql<{ n: number }[]>`select count(*)::int as n from organizations`;
  const stripeAccount = (await (await fetch(`${emulator.url}/_emulator/state`)).json()) as any;
  // Reading Stripe changes nothing (GET /v1/portal/payment-method reads the card on file): the account's
  // objects and its writes are compared, not its log of reads.
  stripeAccount.requests = (stripeAccount.requests ?? []).filter((r: any) => r.method !== 'GET');
  if (stripeAccount.counters) delete stripeAccount.counters.requests;
  return { lists, balances, portal, organizations: organizations?.n, stripeAccount };
}

function summary(report: FuzzReport): string {
  const lines = report.failures.slice(0, 20).map((f) => `${f.operation} [${f.check}] ${f.message}`);
  return `${report.operations} cases in ${report.durationMs} ms, exit ${report.exitCode}\n${lines.join('\n')}\n${report.errors.join('\n')}\n${report.failures.length > 0 ? report.output.slice(-4000) : ''}`;
}

/** Each credential on the operations it opens, and on the others (where it must be refused). */
const runs = [
  { name: 'platform token', credential: 'platform' as const },
  { name: 'organization API key', credential: 'apiKey' as const },
  { name: 'portal session token', credential: 'portal' as const },
];

describe('the API fuzzed from /openapi.json (fixed seed)', () => {
  it('only invalid requests, on every operation with each credential: 4xx in the envelope, nothing changed', async () => {
    const before = await snapshot();
    for (const run of runs) {
      const report = await runSchemathesis(st, {
        schemaUrl: `${base}/openapi.json`,
        token: credentials[run.credential],
        seed: SEED,
        mode: 'negative',
        maxExamples: MAX_EXAMPLES,
        includePathRegex: ONLY_PATHS,
        // The coverage phase: every parameter and body field made invalid in turn, deterministically.
        // (The fuzzing phase of a negative run still sends valid requests to operations whose only
        // input is an id it learned, e.g. archive: validWrites below would catch them.)
        phases: ['coverage'],
        // An invalid request answered 2xx is a finding of its own (it may have changed something).
        checks: ['negative_data_rejection'],
      });
      expect(report.errors, `${run.name}: ${summary(report)}`).toEqual([]);
      expect(report.failures, `${run.name}: ${summary(report)}`).toEqual([]);
      // Only invalid requests were sent, so the snapshot's comparison means what it says.
      expect(report.validWrites, run.name).toEqual([]);
      if (!ONLY_PATHS) expect(report.operations, run.name).toBeGreaterThan(100);
    }
    // Organizations are counted across the whole database: other test files running now may add some.
    const after = (await snapshot()) as any;
    const expected = before as any;
    expect(after.organizations).toBeGreaterThanOrEqual(expected.organizations);
    expect({ ...after, organizations: 0 }).toEqual({ ...expected, organizations: 0 });
  }, 240_000);

  it('valid and invalid requests, on every operation with each credential: no 5xx, always the envelope', async () => {
    for (const run of runs) {
      const report = await runSchemathesis(st, {
        schemaUrl: `${base}/openapi.json`,
        token: credentials[run.credential],
        seed: SEED,
        mode: 'positive',
        maxExamples: MAX_EXAMPLES,
        includePathRegex: ONLY_PATHS,
        phases: ['examples', 'coverage', 'fuzzing'],
      });
      expect(report.errors, `${run.name}: ${summary(report)}`).toEqual([]);
      expect(report.failures, `${run.name}: ${summary(report)}`).toEqual([]);
      if (!ONLY_PATHS) expect(report.operations, run.name).toBeGreaterThan(50);
    }
  }, 240_000);
});
