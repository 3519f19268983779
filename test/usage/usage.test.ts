// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { call, config, newCustomer, newWorld, useHarness } from '../catalog/helpers';
import { balanceOf, buyCredits, entries, expectOrgInvariants, useCredits } from './helpers';

/** POST /v1/customers/{id}/usage: plan credits first, then purchased; idempotent; never overdraws. */
const h = useHarness();

const expectError = (res: { status: number; body: any }, status: number, code: string) => {
  expect([res.status, res.body?.error?.code]).toEqual([status, code]);
};

describe('usage', () => {
  it('takes plan credits first, down to 0, then purchased ones, one entry per bucket', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    await buyCredits(h.app, h.sql, w, c.customer.id, 500);
    const first = await useCredits(h.app, w, c.customer.id, { credits: 400 });
    expect([first.status, first.body.data]).toEqual([
      200,
      { planCredits: 600, purchasedCredits: 500, total: 1100 },
    ]);
    const second = await useCredits(h.app, w, c.customer.id, { credits: 800 });
    expect(second.body.data).toEqual({ planCredits: 0, purchasedCredits: 300, total: 300 });
    expect(await entries(h.sql, c.customer.id, 'usage')).toEqual([
      ['plan', -400],
      ['plan', -600],
      ['purchased', -200],
    ]);
    const third = await useCredits(h.app, w, c.customer.id, { credits: 300 });
    expect(third.body.data).toEqual({ planCredits: 0, purchasedCredits: 0, total: 0 });
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual(third.body.data);
    await expectOrgInvariants(h.sql, w);
  });

  it('more than the total: 409 insufficient_credits and nothing is used (the key stays free)', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    await buyCredits(h.app, h.sql, w, c.customer.id, 100);
    const refused = await useCredits(h.app, w, c.customer.id, { credits: 1101 }, 'key-too-much');
    expectError(refused, 409, 'insufficient_credits');
    expect(await entries(h.sql, c.customer.id, 'usage')).toEqual([]);
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual({
      planCredits: 1000,
      purchasedCredits: 100,
      total: 1100,
    });
    const [key] = await h.sql`select 1 from api_idempotency_keys where organization_id = ${w.orgId}`;
    expect(key).toBeUndefined();
    // exactly the total is allowed
    const all = await useCredits(h.app, w, c.customer.id, { credits: 1100 });
    expect(all.body.data).toEqual({ planCredits: 0, purchasedCredits: 0, total: 0 });
    expectError(await useCredits(h.app, w, c.customer.id, { credits: 1 }), 409, 'insufficient_credits');
  });

  it('Idempotency-Key: a replay answers the first balance and uses nothing; another body or path → 409; none → 400', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.pro.id);
    const d = await newCustomer(h.app, w, w.plans.pro.id);
    const first = await useCredits(h.app, w, c.customer.id, { credits: 100 }, 'k1');
    expect(first.body.data).toEqual({ planCredits: 900, purchasedCredits: 0, total: 900 });
    await useCredits(h.app, w, c.customer.id, { credits: 50 }, 'k2');
    const replay = await useCredits(h.app, w, c.customer.id, { credits: 100 }, 'k1');
    expect([replay.status, replay.body]).toEqual([200, first.body]);
    expect(await balanceOf(h.app, w, c.customer.id)).toEqual({
      planCredits: 850,
      purchasedCredits: 0,
      total: 850,
    });
    expectError(
      await useCredits(h.app, w, c.customer.id, { credits: 101 }, 'k1'),
      409,
      'idempotency_key_reused',
    );
    expectError(
      await useCredits(h.app, w, d.customer.id, { credits: 100 }, 'k1'),
      409,
      'idempotency_key_reused',
    );
    expectError(
      await useCredits(h.app, w, c.customer.id, { credits: 100 }, null),
      400,
      'idempotency_key_missing',
    );
    expectError(
      await useCredits(h.app, w, c.customer.id, { credits: 100 }, '   '),
      400,
      'idempotency_key_missing',
    );
    expect(await entries(h.sql, c.customer.id, 'usage')).toEqual([
      ['plan', -100],
      ['plan', -50],
    ]);
    expect((await balanceOf(h.app, w, d.customer.id)).total).toBe(1000);
    // keys are per organization: another organization may use the same key
    const other = await newWorld(h.app);
    const e = await newCustomer(h.app, other, other.plans.pro.id);
    expect((await useCredits(h.app, other, e.customer.id, { credits: 100 }, 'k1')).status).toBe(200);
  });

  it('validation: credits is an integer from 1 to 100,000,000; unknown customers are 404', async () => {
    const w = await newWorld(h.app);
    const c = await newCustomer(h.app, w, w.plans.enterprise.id);
    for (const body of [
      { credits: 0 },
      { credits: -5 },
      { credits: 1.5 },
      { credits: 100_000_001 },
      { credits: '10' },
      {},
      { credits: 10, extra: true },
    ]) {
      expectError(await useCredits(h.app, w, c.customer.id, body), 400, 'validation_failed');
    }
    const big = await useCredits(h.app, w, c.customer.id, { credits: 100_000_000 });
    expectError(big, 409, 'insufficient_credits');
    expectError(await useCredits(h.app, w, 'cus_unknown123456', { credits: 1 }), 404, 'customer_not_found');
    const other = await newWorld(h.app);
    expectError(await useCredits(h.app, other, c.customer.id, { credits: 1 }), 404, 'customer_not_found');
    const noKey = await call(h.app, 'POST', `/v1/customers/${c.customer.id}/usage`, { body: { credits: 1 } });
    expect(noKey.status).toBe(401);
    expect(await entries(h.sql, c.customer.id, 'usage')).toEqual([]);
  });

  it('parallel usage on one customer never overdraws: exactly as many succeed as the balance allows', async () => {
    // its own pool, wide enough that the calls really run at once
    const sql = createSql(config.databaseUrl, { maxConnections: 12, applicationName: 'usage-parallel' });
    const app = await buildApp({ config, sql, logger: false });
    try {
      const w = await newWorld(app);
      const c = await newCustomer(app, w, w.plans.pro.id); // 1000 plan credits
      await buyCredits(app, sql, w, c.customer.id, 250); // + 250 purchased
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => useCredits(app, w, c.customer.id, { credits: 100 })),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(12);
      expect(statuses.filter((s) => s === 409)).toHaveLength(8);
      for (const a of answers.filter((x) => x.status === 409))
        expect(a.body.error.code).toBe('insufficient_credits');
      // every answered balance is distinct and never below 0
      const totals = answers.filter((a) => a.status === 200).map((a) => a.body.data.total);
      expect(new Set(totals).size).toBe(12);
      expect(Math.min(...totals)).toBe(50);
      expect(await balanceOf(app, w, c.customer.id)).toEqual({
        planCredits: 0,
        purchasedCredits: 50,
        total: 50,
      });
      const usage = await entries(sql, c.customer.id, 'usage');
      expect(usage.reduce((s, [, n]) => s + n, 0)).toBe(-1200);
      expect(usage.filter(([b]) => b === 'plan').reduce((s, [, n]) => s + n, 0)).toBe(-1000);
      await expectOrgInvariants(sql, w);
    } finally {
      await app.close();
      await sql.end({ timeout: 5 });
    }
  });
});
