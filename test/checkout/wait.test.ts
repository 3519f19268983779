import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { randomBase62 } from '../../src/db/ids';
import { cancelUnclaimedPurchase } from '../../src/db/purchase-status';
import { buildApp } from '../../src/portal/app';
import {
  createPurchaseChanges,
  PURCHASE_REREAD_INTERVAL_MS,
  type PurchaseChanges,
  waitForPurchase,
} from '../../src/purchases';
import { config, insertPurchase, newCustomer, newPack, newWorld } from '../catalog/helpers';
import { waitFor } from '../support/wait';

/**
 * The checkout's and cancel's wait (src/purchases/wait.ts) against the real test Postgres: woken by the
 * NOTIFY of migration 00017's trigger, re-reading on PURCHASE_REREAD_INTERVAL_MS when no notification
 * comes, bounded by its deadline. The purchases are rows recorded at checkout whose workflow never
 * started (pending), moved by the database write the product uses for them (canceled).
 */

/** Well under the re-read interval: an answer this fast was woken by a notification. */
const WOKEN_WITHIN_MS = PURCHASE_REREAD_INTERVAL_MS / 3;

let sql: Sql;
let changes: PurchaseChanges;
let appName: string;
let ids: { organizationId: string; customerId: string };
let pack: { id: string; credits: number; price: number };
const errors: string[] = [];

beforeAll(async () => {
  sql = createSql(config.databaseUrl, { maxConnections: 4, applicationName: 'wait-tests' });
  const app = await buildApp({ config, sql, logger: false });
  try {
    const world = await newWorld(app);
    const { customer } = await newCustomer(app, world, world.plans.pro.id);
    pack = await newPack(app, world);
    ids = { organizationId: world.orgId, customerId: customer.id };
  } finally {
    await app.close();
  }
  // Its own application name, to find its connection in pg_stat_activity among other test files'.
  appName = `wait-tests-listen-${randomBase62(8)}`;
  changes = createPurchaseChanges({
    databaseUrl: config.databaseUrl,
    log: { error: (_details, message) => errors.push(message) },
    applicationName: appName,
  });
});

afterAll(async () => {
  await changes?.close();
  // Settled, so no purchase of this file is left pending (the invariant check counts it stuck later).
  if (ids) {
    for (const { id } of await sql<{ id: string }[]>`
      select id from purchases where customer_id = ${ids.customerId} and status = 'pending'`) {
      await cancel(id);
    }
  }
  await sql?.end({ timeout: 5 });
});

const pending = () =>
  insertPurchase(sql, { orgId: ids.organizationId, customerId: ids.customerId, pack, status: 'pending' });

/** The backend pid of the listener once its LISTEN has completed (pg_stat_activity shows it idle). */
async function listening(name = appName): Promise<number> {
  return waitFor(
    async () => {
      const [row] = await sql<{ pid: number }[]>`
        select pid from pg_stat_activity
         where application_name = ${name} and state = 'idle' and query ilike 'listen %'`;
      return row?.pid ?? null;
    },
    `${name} to LISTEN`,
    10_000,
  );
}

/** Starts a wait on `purchaseId`; resolves with the row and how long after `since()` it answered. */
function startWait(purchaseId: string, waitMs: number, purchaseChanges = changes) {
  const started = Date.now();
  return waitForPurchase({ sql, purchaseChanges }, { ...ids, purchaseId }, waitMs).then((row) => ({
    row,
    at: Date.now(),
    elapsed: Date.now() - started,
  }));
}

const cancel = (purchaseId: string) => cancelUnclaimedPurchase(sql, purchaseId, 'Canceled by the test.');

describe('waitForPurchase', () => {
  it('is woken by the status change itself, well before the re-read interval', async () => {
    const purchaseId = await pending();
    const waiting = startWait(purchaseId, 10_000);
    await listening();
    // Past the first read, so the answer can only come from a wake or a re-read.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const changedAt = Date.now();
    expect(await cancel(purchaseId)).not.toBeNull();
    const { row, at } = await waiting;
    expect(row.status).toBe('canceled');
    expect(at - changedAt).toBeLessThan(WOKEN_WITHIN_MS);
  });

  it('a change with no notification (the trigger off in the writing transaction) is still answered, by the re-read', async () => {
    const purchaseId = await pending();
    await listening();
    const waiting = startWait(purchaseId, 10_000);
    // A second subscriber proves no notification came.
    const observer = changes.subscribe(purchaseId);
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      // DDL is transactional: no other session ever sees the trigger disabled (it waits for the lock).
      await sql.begin(async (tx) => {
        await tx`set local lock_timeout = '5s'`;
        await tx`alter table purchases disable trigger purchases_notify_status`;
        await tx`
          update purchases set status = 'canceled', failure_code = 'canceled', failure_message = 'Canceled by the test.'
           where id = ${purchaseId} and status = 'pending' and workflow_run_id is null`;
        await tx`alter table purchases enable trigger purchases_notify_status`;
      });
      const changedAt = Date.now();
      const { row, at } = await waiting;
      expect(row.status).toBe('canceled');
      // Answered by the re-read: within one interval of the change, far from the 10 s deadline.
      expect(at - changedAt).toBeLessThanOrEqual(PURCHASE_REREAD_INTERVAL_MS + 250);
      expect(await observer.next(200)).toBe(false);
    } finally {
      observer.unsubscribe();
    }
    const [trigger] = await sql<{ enabled: string }[]>`
      select tgenabled as enabled from pg_trigger where tgname = 'purchases_notify_status'`;
    expect(trigger?.enabled).toBe('O');
  });

  it('the deadline bounds the wait, and another purchase changing does not end it', async () => {
    const purchaseId = await pending();
    const other = await pending();
    await listening();
    // A deadline between two re-reads: the answer comes at the deadline, not at the next re-read.
    const waitMs = PURCHASE_REREAD_INTERVAL_MS + 300;
    const waiting = startWait(purchaseId, waitMs);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await cancel(other)).not.toBeNull();
    const { row, elapsed } = await waiting;
    expect(row.status).toBe('pending');
    expect(elapsed).toBeGreaterThanOrEqual(waitMs);
    expect(elapsed).toBeLessThan(waitMs + 200);

    // No wait at all: one read.
    const { row: now, elapsed: at } = await startWait(purchaseId, 0);
    expect(now.status).toBe('pending');
    expect(at).toBeLessThan(200);
  });

  it('after its connection is killed the listener listens again, and wakes waiters as before', async () => {
    const purchaseId = await pending();
    const waiting = startWait(purchaseId, 15_000);
    const before = await listening();
    await sql`select pg_terminate_backend(${before})`;
    const after = await waitFor(
      async () => {
        const pid = await listening();
        return pid !== before ? pid : null;
      },
      'a new LISTEN connection',
      10_000,
    );
    expect(after).not.toBe(before);
    const changedAt = Date.now();
    expect(await cancel(purchaseId)).not.toBeNull();
    const { row, at } = await waiting;
    expect(row.status).toBe('canceled');
    expect(at - changedAt).toBeLessThan(WOKEN_WITHIN_MS);
  });

  it('a listener that cannot reach Postgres logs it, and waits are answered by the re-read', async () => {
    const unreachable = new URL(config.databaseUrl);
    unreachable.port = '1';
    const logged: string[] = [];
    const broken = createPurchaseChanges({
      databaseUrl: unreachable.toString(),
      log: { error: (_details, message) => logged.push(message) },
      applicationName: `wait-tests-unreachable-${randomBase62(8)}`,
    });
    try {
      const purchaseId = await pending();
      const waiting = startWait(purchaseId, 10_000, broken);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const changedAt = Date.now();
      expect(await cancel(purchaseId)).not.toBeNull();
      const { row, at } = await waiting;
      expect(row.status).toBe('canceled');
      expect(at - changedAt).toBeLessThanOrEqual(PURCHASE_REREAD_INTERVAL_MS + 250);
      await waitFor(async () => logged.length > 0 || null, 'the LISTEN failure to be logged', 15_000);
      expect(logged[0]).toMatch(/cannot LISTEN/);
    } finally {
      await broken.close();
    }
  });

  it('close() ends the listening connection', async () => {
    const name = `wait-tests-close-${randomBase62(8)}`;
    const own = createPurchaseChanges({
      databaseUrl: config.databaseUrl,
      log: { error: (_details, message) => errors.push(message) },
      applicationName: name,
    });
    // Opened by the first subscription, not before.
    const [none] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where application_name = ${name}`;
    expect(none?.n).toBe(0);
    own.subscribe('pur_unused').unsubscribe();
    await listening(name);
    await own.close();
    await waitFor(
      async () => {
        const [row] = await sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where application_name = ${name}`;
        return row?.n === 0 || null;
      },
      'the listener connection to close',
      5_000,
    );
    expect(errors).toEqual([]);
  });
});
