import { afterAll, describe, expect, it } from 'vitest';
import { createCustomer, createOrganization } from '../../src/db/billing';
import { createSql } from '../../src/db/client';
import { createCreditPack } from '../../src/db/credit-packs';
import { checkInvariants } from '../../src/invariants';
import { insertPurchase } from '../catalog/helpers';
import { testConfig } from '../support/config';
import { inRolledBackTransaction } from '../support/rollback';

/**
 * The invariant checker's `completion_recorded`: a completed purchase has one receipt and
 * one purchase.completed event, a purchase that never completed has neither. Each breakage is made in
 * a transaction that is rolled back (the checker reads a transaction as it reads the pool).
 */

const sql = createSql(testConfig().databaseUrl, { maxConnections: 2 });
afterAll(() => sql.end({ timeout: 5 }));

describe('completion_recorded', () => {
  it('holds for a completed purchase and finds a missing receipt or a receipt without completion', async () => {
    const { organization } = await createOrganization(sql, { name: 'Invariant org' });
    const customer = await createCustomer(sql, organization.id, {
      email: 'i@example.test',
      name: 'I',
    });
    const pack = await createCreditPack(sql, organization.id, {
      name: 'Invariant pack',
      credits: 10,
      price: 100,
      visibility: { type: 'all_credits_plans' },
    });
    const p = { orgId: organization.id, customerId: customer.id, pack };
    await inRolledBackTransaction(sql, async (tx) => {
      const completed = await insertPurchase(tx as never, p);
      await tx`update purchases set status = 'completed' where id = ${completed}`;
      const pending = await insertPurchase(tx as never, p);
      const check = async () =>
        (
          await checkInvariants(
            { sql: tx, stripe: null },
            { organizationId: organization.id, purchaseDeadlineMs: 3_600_000 },
          )
        ).violations
          .filter((v) => v.invariant === 'completion_recorded')
          .map((v) => v.purchaseId);
      expect(await check()).toEqual([]);

      await tx`delete from receipts where purchase_id = ${completed}`;
      await tx`insert into receipts (purchase_id, organization_id, number) values (${pending}, ${organization.id}, 99)`;
      expect((await check()).sort()).toEqual([completed, pending].sort());
    });
  });
});
