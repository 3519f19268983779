// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { GrantRefusedError, getBalance, grantPurchaseCredits, RunNotOwnerError } from '../../src/db/ledger';
import { config, insertPurchase, newCustomer, newPack, newWorld, useHarness } from '../catalog/helpers';
import { holdCustomerRow } from '../support/customer-lock';
import { waitFor } from '../support/wait';

/**
 * grantPurchaseCredits against the real Postgres: a purchase in a status the grant may start from
 * (crediting; charging or requires_action with the `crediting` option) is granted without reading the
 * ledger for an existing grant first, and its writes go in one pipelined round trip. What must still
 * hold: a replay credits nothing, two attempts at once credit once, refusals write nothing, the dispute
 * hold follows the grant, and the unique index is the backstop if a grant ever stood beside a crediting
 * purchase. (The same grant driven through the activity, as the workflow runs it:
 * test/purchase/round-trips.test.ts.)
 */

const h = useHarness();

/** A PaymentIntent id of its own (they are unique across purchases, and the test database is kept). */
const pi = () => `pi_test_${randomUUID().replaceAll('-', '')}`;

// Two clients of one connection each: the two attempts of the race run on connections of their own.
let racers: Sql[] = [];
beforeAll(() => {
  racers = [1, 2].map(() =>
    createSql(config.databaseUrl, { maxConnections: 1, applicationName: 'grant-race' }),
  );
});
afterAll(async () => {
  await Promise.all(racers.map((sql) => sql.end({ timeout: 5 })));
});

async function setup(status = 'crediting') {
  const w = await newWorld(h.app);
  const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
  const c = await newCustomer(h.app, w, w.plans.pro.id);
  const purchaseId = await insertPurchase(h.sql, { orgId: w.orgId, customerId: c.customer.id, pack, status });
  const ids = { organizationId: w.orgId, customerId: c.customer.id };
  return {
    purchaseId,
    customerId: c.customer.id as string,
    purchased: async () => (await getBalance(h.sql, ids)).purchasedCredits,
    row: async () => {
      const [row] = await h.sql<
        { status: string; stripe_payment_intent_id: string | null; dispute_credits_held: number }[]
      >`
        select status, stripe_payment_intent_id, dispute_credits_held from purchases where id = ${purchaseId}`;
      return row!;
    },
    ledger: async () =>
      h.sql<{ id: number; kind: string; credits: number }[]>`
        select id, kind, credits from credit_ledger where purchase_id = ${purchaseId} order by id`,
    transitions: async () =>
      (
        await h.sql<{ to: string }[]>`
          select to_status as to from purchase_transitions where purchase_id = ${purchaseId} order by id`
      ).map((t) => t.to),
  };
}

async function errorOf(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    () => {
      throw new Error('the grant unexpectedly succeeded');
    },
    (error: unknown) => error,
  );
}

describe('grantPurchaseCredits', () => {
  it('grants a crediting purchase once; a second grant replays it and credits nothing', async () => {
    const p = await setup();
    const first = await grantPurchaseCredits(h.sql, p.purchaseId, 'run-1');
    expect(first.replayed).toBe(false);
    expect(await p.row()).toMatchObject({ status: 'completed' });
    const again = await grantPurchaseCredits(h.sql, p.purchaseId, 'run-1');
    expect(again).toEqual({ ledgerEntryId: first.ledgerEntryId, replayed: true });
    // With the `crediting` option too (a retry of the workflow's grant): completed cannot become
    // crediting, so the existing grant is read and returned.
    const withOption = await grantPurchaseCredits(h.sql, p.purchaseId, 'run-1', {
      crediting: { paymentIntentId: pi() },
    });
    expect(withOption).toEqual({ ledgerEntryId: first.ledgerEntryId, replayed: true });
    expect(await p.ledger()).toEqual([{ id: first.ledgerEntryId, kind: 'purchase_grant', credits: 500 }]);
    expect(await p.purchased()).toBe(500);
    expect(await p.transitions()).toEqual(['crediting', 'completed']);
    expect((await p.row()).stripe_payment_intent_id).toBeNull();
  });

  for (const crediting of [false, true]) {
    it(`two grants of one purchase at once on two connections: exactly one credits${crediting ? ' (with the crediting option, from charging)' : ''}`, async () => {
      const p = await setup(crediting ? 'charging' : 'crediting');
      const options = crediting ? { crediting: { paymentIntentId: pi() } } : {};
      // Both attempts wait on the customer's row, held here; released, one grants and the other, whose
      // locking select re-reads the row after its wait, finds it completed and reads the grant.
      const held = await holdCustomerRow(h.sql, p.customerId);
      const attempts = racers.map((sql) => grantPurchaseCredits(sql, p.purchaseId, 'run-1', options));
      await waitFor(
        async () =>
          (
            await h.sql`
              select 1 from pg_stat_activity
               where application_name = 'grant-race' and wait_event_type = 'Lock'
                 and query like '%for update of p, c%'`
          ).length >= 2,
        'both attempts to wait on the lock',
      );
      await held.release();
      const results = await Promise.all(attempts);
      expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
      expect(results[0]!.ledgerEntryId).toBe(results[1]!.ledgerEntryId);
      expect(await p.ledger()).toHaveLength(1);
      expect(await p.purchased()).toBe(500);
      expect(await p.transitions()).toEqual(
        crediting ? ['charging', 'crediting', 'completed'] : ['crediting', 'completed'],
      );
    });
  }

  for (const from of ['charging', 'requires_action']) {
    it(`with the crediting option, from ${from}: records crediting with the PaymentIntent, grants, completes`, async () => {
      const p = await setup(from);
      const paymentIntentId = pi();
      const grant = await grantPurchaseCredits(h.sql, p.purchaseId, 'run-1', {
        crediting: { paymentIntentId },
      });
      expect(grant.replayed).toBe(false);
      expect(await p.row()).toMatchObject({ status: 'completed', stripe_payment_intent_id: paymentIntentId });
      expect(await p.transitions()).toEqual([from, 'crediting', 'completed']);
      expect(await p.ledger()).toEqual([{ id: grant.ledgerEntryId, kind: 'purchase_grant', credits: 500 }]);
      expect(await p.purchased()).toBe(500);
    });
  }

  it('refuses a purchase not crediting, not found, or of a deleted customer; another run is not the owner', async () => {
    // pending, without the option: not crediting; with it: the transition table keeps it from crediting.
    const pending = await setup('pending');
    expect(await errorOf(grantPurchaseCredits(h.sql, pending.purchaseId, 'run-1'))).toBeInstanceOf(
      GrantRefusedError,
    );
    expect(
      await errorOf(
        grantPurchaseCredits(h.sql, pending.purchaseId, 'run-1', { crediting: { paymentIntentId: pi() } }),
      ),
    ).toBeInstanceOf(GrantRefusedError);
    expect(await pending.transitions()).toEqual(['pending']);
    expect(await pending.ledger()).toEqual([]);

    expect(await errorOf(grantPurchaseCredits(h.sql, 'pur_doesnotexist', 'run-1'))).toBeInstanceOf(
      GrantRefusedError,
    );

    const claimed = await setup();
    await h.sql`update purchases set workflow_run_id = 'run-other' where id = ${claimed.purchaseId}`;
    expect(await errorOf(grantPurchaseCredits(h.sql, claimed.purchaseId, 'run-1'))).toBeInstanceOf(
      RunNotOwnerError,
    );
    expect(await claimed.ledger()).toEqual([]);

    // A deleted customer: refused, nothing granted; with the option the move to crediting stands.
    const deleted = await setup();
    await h.sql`update customers set deleted_at = now() where id = ${deleted.customerId}`;
    expect(await errorOf(grantPurchaseCredits(h.sql, deleted.purchaseId, 'run-1'))).toBeInstanceOf(
      GrantRefusedError,
    );
    expect(await deleted.row()).toMatchObject({ status: 'crediting' });
    expect(await deleted.ledger()).toEqual([]);
    const deletedCharging = await setup('charging');
    const paymentIntentId = pi();
    await h.sql`update customers set deleted_at = now() where id = ${deletedCharging.customerId}`;
    expect(
      await errorOf(
        grantPurchaseCredits(h.sql, deletedCharging.purchaseId, 'run-1', {
          crediting: { paymentIntentId },
        }),
      ),
    ).toBeInstanceOf(GrantRefusedError);
    expect(await deletedCharging.row()).toMatchObject({
      status: 'crediting',
      stripe_payment_intent_id: paymentIntentId,
    });
    expect(await deletedCharging.transitions()).toEqual(['charging', 'crediting']);
    expect(await deletedCharging.ledger()).toEqual([]);
  });

  it('holds the share of a dispute opened before the grant (a crediting purchase, no option)', async () => {
    const p = await setup();
    await h.sql`update purchases set dispute_status = 'open', dispute_amount_cents = 1000 where id = ${p.purchaseId}`;
    const grant = await grantPurchaseCredits(h.sql, p.purchaseId, 'run-1');
    expect(grant.replayed).toBe(false);
    expect((await p.ledger()).map(({ kind, credits }) => ({ kind, credits }))).toEqual([
      { kind: 'purchase_grant', credits: 500 },
      { kind: 'dispute_hold', credits: -125 },
    ]);
    expect(await p.row()).toMatchObject({ status: 'completed', dispute_credits_held: 125 });
    expect(await p.purchased()).toBe(375);
  });

  it('the unique index is the backstop: a grant beside a crediting purchase (never written so) fails the grant, not credits twice', async () => {
    const p = await setup();
    // The invariant broken by hand: a grant stands while the purchase is still crediting.
    const [orphan] = await h.sql<{ id: number }[]>`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      select organization_id, customer_id, 'purchased', 'purchase_grant', credits, id
        from purchases where id = ${p.purchaseId}
      returning id`;
    const error = await errorOf(grantPurchaseCredits(h.sql, p.purchaseId, 'run-1'));
    // The insert's own error (not the pipelined update's "transaction is aborted"), and all rolled back.
    expect({ code: error.code, constraint: error.constraint_name }).toEqual({
      code: '23505',
      constraint: 'credit_ledger_one_grant_per_purchase',
    });
    expect(await p.row()).toMatchObject({ status: 'crediting' });
    expect(await p.ledger()).toEqual([{ id: orphan!.id, kind: 'purchase_grant', credits: 500 }]);
    expect(await p.purchased()).toBe(500);
    expect(await p.transitions()).toEqual(['crediting']);
  });
});
