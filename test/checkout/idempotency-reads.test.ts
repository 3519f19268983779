import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { cancelUnclaimedPurchase } from '../../src/db/purchase-status';
import { findPurchaseByIdempotencyKey } from '../../src/db/purchases';
import { buildApp } from '../../src/portal/app';
import { type CheckoutRequest, createPurchase } from '../../src/purchases';
import { config, newCustomer, newPack, newWorld } from '../catalog/helpers';

/**
 * createPurchase with the key's row already read by its caller (`known`, what the portal's checkout
 * passes so the key is read once): a "no row" that went stale, because a checkout with the same key
 * recorded its row in between, answers exactly as the read would have, against the real Postgres.
 * Only rows are recorded here (no workflow starts); they are canceled at the end.
 */

let sql: Sql;
let base: Omit<CheckoutRequest, 'idempotencyKey' | 'quantity'>;

beforeAll(async () => {
  sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'idempotency-reads-tests' });
  const app = await buildApp({ config, sql, logger: false });
  try {
    const world = await newWorld(app);
    const { customer } = await newCustomer(app, world, world.plans.pro.id);
    const pack = await newPack(app, world);
    base = { organizationId: world.orgId, customerId: customer.id, creditPackId: pack.id };
  } finally {
    await app.close();
  }
});

afterAll(async () => {
  if (base) {
    for (const { id } of await sql<{ id: string }[]>`
      select id from purchases where customer_id = ${base.customerId} and status = 'pending'`) {
      await cancelUnclaimedPurchase(sql, id, 'Canceled by the test.');
    }
  }
  await sql?.end({ timeout: 5 });
});

describe('createPurchase given the key as its caller read it', () => {
  it('a new key with known: null records the purchase (no second read needed)', async () => {
    const request = { ...base, quantity: 1, idempotencyKey: randomUUID() };
    const { purchase, created } = await createPurchase(sql, request, { maxQuantity: 3, known: null });
    expect(created).toBe(true);
    expect((await findPurchaseByIdempotencyKey(sql, request))?.id).toBe(purchase.id);
  });

  it('a stale known: null (the same key recorded meanwhile) answers the recorded purchase, or 409 for another body', async () => {
    const request = { ...base, quantity: 2, idempotencyKey: randomUUID() };
    const first = await createPurchase(sql, request, { maxQuantity: 3 });
    expect(first.created).toBe(true);

    const again = await createPurchase(sql, request, { maxQuantity: 3, known: null });
    expect(again).toMatchObject({ created: false, purchase: { id: first.purchase.id } });
    await expect(
      createPurchase(sql, { ...request, quantity: 1 }, { maxQuantity: 3, known: null }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('a stale known: null is judged on its key before the bound and the pack, as a read would be', async () => {
    const request = { ...base, quantity: 3, idempotencyKey: randomUUID() };
    const first = await createPurchase(sql, request, { maxQuantity: 3 });
    // The bound has since dropped: the key's own purchase is answered, not quantity_exceeds_limit.
    const underLowerBound = await createPurchase(sql, request, { maxQuantity: 2, known: null });
    expect(underLowerBound).toMatchObject({ created: false, purchase: { id: first.purchase.id } });
    await expect(
      createPurchase(sql, { ...request, quantity: 4 }, { maxQuantity: 2, known: null }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    // A pack that is gone: the same, the key's purchase (another body: 409).
    await expect(
      createPurchase(sql, { ...request, creditPackId: 'cp_doesnotexist00' }, { maxQuantity: 3, known: null }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    // A new key is refused as before.
    await expect(
      createPurchase(sql, { ...request, idempotencyKey: randomUUID() }, { maxQuantity: 2, known: null }),
    ).rejects.toMatchObject({ code: 'quantity_exceeds_limit' });
    await expect(
      createPurchase(
        sql,
        { ...request, creditPackId: 'cp_doesnotexist00', idempotencyKey: randomUUID() },
        { maxQuantity: 3, known: null },
      ),
    ).rejects.toMatchObject({ code: 'credit_pack_not_found' });
  });

  it('a known row is answered without reading the key (its body checked all the same)', async () => {
    const request = { ...base, quantity: 1, idempotencyKey: randomUUID() };
    const first = await createPurchase(sql, request, { maxQuantity: 3 });
    const again = await createPurchase(sql, request, { maxQuantity: 3, known: first.purchase });
    expect(again).toEqual({ created: false, purchase: first.purchase });
    await expect(
      createPurchase(sql, { ...request, quantity: 2 }, { maxQuantity: 3, known: first.purchase }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });
});
