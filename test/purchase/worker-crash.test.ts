import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../src/db/billing';
import { createSql, type Sql } from '../../src/db/client';
import { checkout } from '../../src/purchases';
import { createStripeAt } from '../../src/stripe/client';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { purchaseStatusQuery, purchaseWorkflowId } from '../../src/workflows';
import { type StripeEmulatorHandle, startStripeEmulator } from '../../tools/stripe-emulator/index';
import { testConfig } from '../support/config';
import { holdCustomerRow } from '../support/customer-lock';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { databaseNow, expectInvariantsHold } from '../support/invariants';
import { waitFor } from '../support/wait';

/**
 * The real worker process (`src/worker.ts`), killed with SIGKILL in the middle of a purchase and
 * started again: the purchase must still end completed, with one charge and one credit.
 */

const WORKER_ENTRY = fileURLToPath(new URL('../../src/worker.ts', import.meta.url));
const taskQueue = `crash-${randomUUID()}`;
const config = testConfig();
let emulator: StripeEmulatorHandle;
let sql: Sql;
let client: Client;
let worker: ChildProcess | undefined;

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
    env: {
      ...process.env,
      STACK_PROFILE: 'test',
      TEMPORAL_TASK_QUEUE: taskQueue,
      STRIPE_EMULATOR_PORT: String(emulator.port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      WORKER_SHUTDOWN_GRACE_MS: '1000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

let startedAt: Date;

beforeAll(async () => {
  emulator = await startStripeEmulator({ host: '127.0.0.1', port: 0 });
  sql = createSql(config.databaseUrl);
  startedAt = await databaseNow(sql);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
});

afterAll(async () => {
  if (worker && worker.exitCode === null) await kill(worker);
  await client?.connection.close();
  try {
    // One charge and one credit per purchase, whatever the kills did, by the money invariants too.
    if (emulator && startedAt)
      await expectInvariantsHold({ sql, stripe: createStripeAt(emulator.url) }, startedAt);
  } finally {
    await sql?.end({ timeout: 5 });
    await emulator?.close();
  }
});

async function shopperWithCard() {
  const stripe = createStripeAt(emulator.url);
  const tag = randomUUID().slice(0, 8);
  const [org] = await sql<{ id: string }[]>`
    insert into organizations (id, name, api_key_hash, api_key_hint)
    values (${`org_crash${tag}`}, ${`Crash ${tag}`}, ${'0'.repeat(56) + tag}, 'crash') returning id`;
  const organizationId = org?.id as string;
  const [plan] = await sql<{ id: string }[]>`
    insert into plans (id, organization_id, name, consumption_model, is_free, included_credits)
    values (${`pln_crash${tag}`}, ${organizationId}, 'Pro', 'credits', false, 0) returning id`;
  const stripeCustomer = await stripe.customers.create({ email: `${tag}@example.test` });
  const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: stripeCustomer.id });
  await stripe.customers.update(stripeCustomer.id, { invoice_settings: { default_payment_method: card.id } });
  const customer = await createCustomer(sql, organizationId, {
    email: `${tag}@example.test`,
    name: 'Crash Test',
    stripeCustomerId: stripeCustomer.id,
  });
  await sql`
    insert into subscriptions (id, organization_id, customer_id, plan_id, status)
    values (${`sub_crash${tag}`}, ${organizationId}, ${customer.id}, ${plan?.id as string}, 'active')`;
  const [pack] = await sql<{ id: string }[]>`
    insert into credit_packs (id, organization_id, name, credits, price_cents, currency, visibility)
    values (${`cpk_crash${tag}`}, ${organizationId}, 'Crash Pack', 500, 4000, 'usd', 'all_credits_plans') returning id`;
  return { organizationId, customerId: customer.id, creditPackId: pack?.id as string };
}

async function buy(shopper: Awaited<ReturnType<typeof shopperWithCard>>) {
  const { purchase } = await checkout(
    { sql, client, config: { ...config, TEMPORAL_TASK_QUEUE: taskQueue } },
    { ...shopper, quantity: 1, idempotencyKey: randomUUID() },
  );
  return { purchaseId: purchase.id, handle: client.workflow.getHandle(purchaseWorkflowId(purchase.id)) };
}

async function expectOneChargeOneCredit(purchaseId: string, customerId: string) {
  const stripe = await stripeRecordsOf(emulator.url, purchaseId);
  expect(stripe.paymentIntents).toHaveLength(1);
  expect(stripe.paymentIntents[0]?._emulator.creates).toBe(1);
  expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
  const ledger = await sql<{ credits: number }[]>`
    select credits from credit_ledger where customer_id = ${customerId} and kind = 'purchase_grant'`;
  expect(ledger.map((l) => l.credits)).toEqual([500]);
}

describe('the worker killed mid-purchase and restarted', { timeout: 120_000 }, () => {
  it('during the charge: the charge lands while no worker runs; the retry replays it, one charge', async () => {
    const shopper = await shopperWithCard();
    // The charge request stalls in Stripe for 3 s, then takes effect with nobody listening.
    await emulatorControl(emulator.url).fault({
      match: { method: 'POST', path: '/v1/payment_intents' },
      times: 1,
      action: { type: 'stall', ms: 3_000 },
    });
    worker = startWorkerProcess();
    const { purchaseId, handle } = await buy(shopper);
    await waitFor(async () => (await faultHits()) >= 1, 'the charge request to reach Stripe', 60_000);
    expect((await stripeRecordsOf(emulator.url, purchaseId)).paymentIntents).toHaveLength(0); // still stalled
    await kill(worker);
    worker = startWorkerProcess();
    const result = await handle.result();
    expect(result.status).toBe('completed');
    await expectOneChargeOneCredit(purchaseId, shopper.customerId);
  });

  it('between the charge and the credit: the restarted worker credits once', async () => {
    const shopper = await shopperWithCard();
    if (!worker || worker.exitCode !== null) worker = startWorkerProcess();
    // Slow the charge down, so the test can hold the customer's row before the credit needs it.
    await emulatorControl(emulator.url).fault({
      match: { method: 'POST', path: '/v1/payment_intents' },
      times: 1,
      action: { type: 'stall', ms: 1_500 },
    });
    const { purchaseId, handle } = await buy(shopper);
    await waitFor(
      async () => (await handle.query(purchaseStatusQuery).catch(() => null))?.status === 'charging',
      'the charge to start',
      60_000,
    );
    // The credit locks the purchase and its customer; holding the customer blocks it right after the charge.
    const held = await holdCustomerRow(sql, shopper.customerId);
    // The grant's transaction records crediting itself, so the row says so only once it commits: the
    // workflow says crediting, and the grant waits on the held lock.
    await waitFor(
      async () =>
        (await handle.query(purchaseStatusQuery).catch(() => null))?.status === 'crediting' &&
        (
          await sql`
            select 1 from pg_stat_activity
             where ${held.pid}::int = any(pg_blocking_pids(pid)) and query like '%for update of p, c%'`
        ).length > 0,
      'the purchase to be charged and its grant waiting',
      60_000,
    );
    expect((await sql`select status from purchases where id = ${purchaseId}`)[0]?.status).toBe('charging');
    expect((await stripeRecordsOf(emulator.url, purchaseId)).paymentIntents.map((pi) => pi.status)).toEqual([
      'succeeded',
    ]);
    await kill(worker);
    await held.release();
    worker = startWorkerProcess();
    const result = await handle.result();
    expect(result.status).toBe('completed');
    await expectOneChargeOneCredit(purchaseId, shopper.customerId);
  });
});

/** How many requests the armed faults have caught so far. */
async function faultHits(): Promise<number> {
  const response = await fetch(`${emulator.url}/_emulator/faults`);
  const faults = (await response.json()) as { hits?: number }[] | { faults: { hits?: number }[] };
  const list = Array.isArray(faults) ? faults : faults.faults;
  return list.reduce((sum, fault) => sum + (fault.hits ?? 0), 0);
}
