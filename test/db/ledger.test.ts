// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids';
import { insertPurchase, newCustomer, newPack, newWorld, ok, useHarness } from '../catalog/helpers';

const h = useHarness();

/** The Postgres error (code and constraint) a statement fails with. */
async function pgError(
  run: () => Promise<unknown>,
): Promise<{ code: string; constraint: string | undefined }> {
  try {
    await run();
  } catch (error: any) {
    return { code: error.code, constraint: error.constraint_name };
  }
  throw new Error('statement unexpectedly succeeded');
}

async function setup() {
  const w = await newWorld(h.app);
  const pack = await newPack(h.app, w, { credits: 500, price: 4000 });
  const c = await newCustomer(h.app, w, w.plans.pro.id);
  const purchaseId = await insertPurchase(h.sql, {
    orgId: w.orgId,
    customerId: c.customer.id,
    pack,
    status: 'crediting',
  });
  return { w, pack, c, purchaseId };
}

describe('credit ledger (database-enforced)', () => {
  it('accepts one purchase grant and rejects a second one for the same purchase', async () => {
    const { w, c, purchaseId } = await setup();
    const grant = () => h.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      values (${w.orgId}, ${c.customer.id}, 'purchased', 'purchase_grant', 500, ${purchaseId})`;
    await grant();
    expect(await pgError(grant)).toEqual({
      code: '23505',
      constraint: 'credit_ledger_one_grant_per_purchase',
    });
    // the idempotent form the crediting activity will use: a replay is a no-op
    const replay = await h.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      values (${w.orgId}, ${c.customer.id}, 'purchased', 'purchase_grant', 500, ${purchaseId})
      on conflict (purchase_id) where kind = 'purchase_grant' do nothing`;
    expect(replay.count).toBe(0);
    const [bal] =
      await h.sql`select purchased_credits from credit_balances where customer_id = ${c.customer.id}`;
    expect(Number(bal!.purchased_credits)).toBe(500);
  });

  it('a grant must match the purchase, go to its buyer, and sit in the purchased bucket', async () => {
    const { w, c, purchaseId } = await setup();
    const other = await newCustomer(h.app, w, w.plans.pro.id);
    const insert = (customerId: string, bucket: string, credits: number) => () =>
      h.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      values (${w.orgId}, ${customerId}, ${bucket}, 'purchase_grant', ${credits}, ${purchaseId})`;
    expect(await pgError(insert(c.customer.id, 'purchased', 499))).toMatchObject({
      constraint: 'credit_ledger_grant_matches_purchase',
    });
    expect(await pgError(insert(other.customer.id, 'purchased', 500))).toMatchObject({ code: '23503' });
    expect(await pgError(insert(c.customer.id, 'plan', 500))).toMatchObject({
      code: '23514',
      constraint: 'credit_ledger_kind_shape',
    });
    expect(await pgError(insert(c.customer.id, 'purchased', -500))).toMatchObject({ code: '23514' });
  });

  it('entries are immutable; reversals of a purchase add up to at most what was bought', async () => {
    const { w, c, purchaseId } = await setup();
    const [entry] = await h.sql<{ id: string }[]>`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      values (${w.orgId}, ${c.customer.id}, 'purchased', 'purchase_grant', 500, ${purchaseId}) returning id`;
    expect(
      await pgError(() => h.sql`update credit_ledger set credits = 5000 where id = ${entry!.id}`),
    ).toMatchObject({
      constraint: 'credit_ledger_immutable',
    });
    expect(await pgError(() => h.sql`delete from credit_ledger where id = ${entry!.id}`)).toMatchObject({
      constraint: 'credit_ledger_immutable',
    });
    const reverse = (credits: number) => () =>
      h.sql`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
      values (${w.orgId}, ${c.customer.id}, 'purchased', 'reversal', ${credits}, ${purchaseId})`;
    expect(await pgError(reverse(-501))).toMatchObject({ constraint: 'credit_ledger_reversal_bounded' });
    await reverse(-300)();
    // Several reversals per purchase (one per refund), but never more in all than it bought.
    expect(await pgError(reverse(-201))).toMatchObject({
      code: '23514',
      constraint: 'credit_ledger_reversal_bounded',
    });
    await reverse(-200)();
    // the Pro subscription's plan credits of this period (1000) are untouched by the reversals
    expect(await ok(h.app, 'GET', '/v1/portal/balance', { token: c.token })).toEqual({
      planCredits: 1000,
      purchasedCredits: 0,
      total: 1000,
    });
  });

  it('the balance always equals the ledger sum, per bucket', async () => {
    const { w, c, purchaseId } = await setup();
    const entries: [string, string, number, string | null][] = [
      ['plan', 'plan_grant', 1000, null],
      ['plan', 'usage', -400, null],
      ['plan', 'plan_expiry', -600, null],
      ['plan', 'plan_grant', 1000, null],
      ['purchased', 'purchase_grant', 500, purchaseId],
      ['purchased', 'usage', -120, null],
    ];
    for (const [bucket, kind, credits, pid] of entries) {
      await h.sql`
        insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
        values (${w.orgId}, ${c.customer.id}, ${bucket}, ${kind}, ${credits}, ${pid})`;
    }
    const [sums] = await h.sql<{ plan: string; purchased: string }[]>`
      select sum(credits) filter (where bucket = 'plan')::text as plan,
             sum(credits) filter (where bucket = 'purchased')::text as purchased
        from credit_ledger where customer_id = ${c.customer.id}`;
    const balance = await ok(h.app, 'GET', '/v1/portal/balance', { token: c.token });
    expect(balance).toEqual({
      planCredits: Number(sums!.plan),
      purchasedCredits: Number(sums!.purchased),
      total: Number(sums!.plan) + Number(sums!.purchased),
    });
    // + the Pro subscription's own grant of its first period (1000)
    expect(balance).toEqual({ planCredits: 2000, purchasedCredits: 380, total: 2380 });
  });
});

describe('catalog and purchase constraints (database-enforced)', () => {
  it('refuses non-positive credits or price, other currencies and case-insensitive duplicate names', async () => {
    const w = await newWorld(h.app);
    const insert =
      (name: string, credits: number, price: number, currency = 'usd') =>
      () =>
        h.sql`
      insert into credit_packs (id, organization_id, name, credits, price_cents, currency)
      values (${newId('creditPack')}, ${w.orgId}, ${name}, ${credits}, ${price}, ${currency})`;
    await insert('Starter', 100, 1000)();
    expect(await pgError(insert('A', 0, 1000))).toMatchObject({
      code: '23514',
      constraint: 'credit_packs_credits_check',
    });
    expect(await pgError(insert('B', 100, 0))).toMatchObject({
      code: '23514',
      constraint: 'credit_packs_price_cents_check',
    });
    expect(await pgError(insert('C', 100, 1000, 'eur'))).toMatchObject({
      code: '23514',
      constraint: 'credit_packs_currency_check',
    });
    expect(await pgError(insert('sTARTER', 100, 1000))).toMatchObject({
      code: '23505',
      constraint: 'credit_packs_org_name_key',
    });
  });

  it('refuses references across organizations and invalid statuses', async () => {
    const w = await newWorld(h.app);
    const other = await newWorld(h.app);
    const c = await newCustomer(h.app, w, null);
    expect(
      await pgError(
        () => h.sql`
        insert into subscriptions (id, organization_id, customer_id, plan_id, status)
        values (${newId('subscription')}, ${w.orgId}, ${c.customer.id}, ${other.plans.pro.id}, 'active')`,
      ),
    ).toMatchObject({ code: '23503' });
    expect(
      await pgError(
        () => h.sql`
        insert into subscriptions (id, organization_id, customer_id, plan_id, status)
        values (${newId('subscription')}, ${w.orgId}, ${c.customer.id}, ${w.plans.pro.id}, 'paused')`,
      ),
    ).toMatchObject({ code: '23514' });
  });

  it('logs every purchase status change and keeps settled purchases settled', async () => {
    const { purchaseId } = await setup();
    const move = (status: string) => h.sql`update purchases set status = ${status} where id = ${purchaseId}`;
    await move('completed');
    expect(await pgError(() => move('failed'))).toMatchObject({ constraint: 'purchases_terminal_status' });
    await move('refunded');
    expect(await pgError(() => move('completed'))).toMatchObject({ constraint: 'purchases_terminal_status' });
    expect(await pgError(() => move('shipped'))).toMatchObject({ code: '23514' });
    const log = await h.sql`
      select from_status, to_status from purchase_transitions where purchase_id = ${purchaseId} order by id`;
    expect(log.map((r) => [r.from_status, r.to_status])).toEqual([
      [null, 'crediting'],
      ['crediting', 'completed'],
      ['completed', 'refunded'],
    ]);
  });

  it('one checkout idempotency key per organization and customer; totals are quantity x pack', async () => {
    const { w, c, pack } = await setup();
    const insert = (key: string, quantity: number, credits: number) => () =>
      h.sql`
      insert into purchases (id, organization_id, customer_id, credit_pack_id, quantity, unit_credits,
                             unit_price_cents, credits, price_cents, idempotency_key, request_hash)
      values (${newId('purchase')}, ${w.orgId}, ${c.customer.id}, ${pack.id}, ${quantity}, 500, 4000,
              ${credits}, ${quantity * 4000}, ${key}, ${'0'.repeat(64)})`;
    await insert('key-1', 1, 500)();
    expect(await pgError(insert('key-1', 1, 500))).toMatchObject({
      code: '23505',
      constraint: 'purchases_organization_id_customer_id_idempotency_key_key',
    });
    expect(await pgError(insert('key-2', 2, 500))).toMatchObject({ code: '23514' });
    expect(await pgError(insert('key-3', 0, 0))).toMatchObject({ code: '23514' });
  });
});
