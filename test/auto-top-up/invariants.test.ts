import { randomUUID } from 'node:crypto';
import type { TransactionSql } from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createCustomer, createOrganization } from '../../src/db/billing';
import { createSql } from '../../src/db/client';
import { createCreditPack } from '../../src/db/credit-packs';
import { requestBodyHash } from '../../src/db/idempotency';
import { recordUsage } from '../../src/db/usage';
import { checkInvariants } from '../../src/invariants';
import { topUpContext } from '../../src/purchases/auto-top-up';
import { insertPurchase } from '../catalog/helpers';
import { testConfig } from '../support/config';
import { inRolledBackTransaction } from '../support/rollback';

/**
 * The invariant checker's `one_auto_top_up_in_flight` and `usage_within_balance`: they hold on real
 * usage, and each breakage, made in a transaction that is rolled back, is found.
 */

const sql = createSql(testConfig().databaseUrl, { maxConnections: 2 });
afterAll(() => sql.end({ timeout: 5 }));

async function world() {
  const { organization } = await createOrganization(sql, {
    name: `Top-up invariants ${randomUUID().slice(0, 8)}`,
  });
  const customer = await createCustomer(sql, organization.id, { email: 't@example.test', name: 'T' });
  const pack = await createCreditPack(sql, organization.id, {
    name: 'Top-up pack',
    credits: 10,
    price: 100,
    visibility: { type: 'all_credits_plans' },
  });
  return { organizationId: organization.id, customerId: customer.id, pack };
}

const check = async (tx: TransactionSql | typeof sql, organizationId: string) =>
  (await checkInvariants({ sql: tx, stripe: null }, { organizationId, purchaseDeadlineMs: 3_600_000 }))
    .violations;

describe('usage and auto top-up invariants', () => {
  it('usage_within_balance: real usage holds; a usage entry beyond the balance is found', async () => {
    const w = await world();
    await sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description)
      values (${w.organizationId}, ${w.customerId}, 'plan', 'plan_grant', 100, 'test plan credits')`;
    const { statusCode } = await recordUsage(
      sql,
      {
        organizationId: w.organizationId,
        customerId: w.customerId,
        credits: 100,
        idempotencyKey: randomUUID(),
        requestPath: 'test',
        requestHash: requestBodyHash({ credits: 100 }),
      },
      topUpContext(),
    );
    expect(statusCode).toBe(200);
    expect(await check(sql, w.organizationId)).toEqual([]);

    await inRolledBackTransaction(sql, async (tx) => {
      await tx`
        insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description)
        values (${w.organizationId}, ${w.customerId}, 'plan', 'usage', -1, 'planted: one credit too many')`;
      expect(await check(tx, w.organizationId)).toEqual([
        expect.objectContaining({ invariant: 'usage_within_balance', customerId: w.customerId }),
      ]);
    });
  });

  it('one_auto_top_up_in_flight: found when two are in flight (the unique index dropped in the transaction)', async () => {
    const w = await world();
    const p = { orgId: w.organizationId, customerId: w.customerId, pack: w.pack };
    await inRolledBackTransaction(sql, async (tx) => {
      const first = await insertPurchase(tx as never, p);
      await tx`update purchases set trigger = 'auto_top_up' where id = ${first}`;
      expect(await check(tx, w.organizationId)).toEqual([]);
      await tx`set local lock_timeout = '5s'`;
      await tx`drop index purchases_one_auto_top_up_in_flight`;
      const second = await insertPurchase(tx as never, p);
      await tx`update purchases set trigger = 'auto_top_up' where id = ${second}`;
      expect(await check(tx, w.organizationId)).toEqual([
        expect.objectContaining({ invariant: 'one_auto_top_up_in_flight', customerId: w.customerId }),
      ]);
      const [found] = await check(tx, w.organizationId);
      expect(found?.message).toContain(first);
      expect(found?.message).toContain(second);
    });
    const [index] =
      await sql`select 1 from pg_indexes where indexname = 'purchases_one_auto_top_up_in_flight'`;
    expect(index).toBeDefined();
  });
});
