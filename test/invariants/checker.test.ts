import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids';
import { checkInvariants, type InvariantReport } from '../../src/invariants';
import { type PurchaseEnv, purchaseEnv, type Shopper } from '../support/purchase-env';
import { inRolledBackTransaction } from '../support/rollback';

/**
 * The invariant checker against real purchases (Temporal, Postgres, the Stripe emulator), and against
 * deliberately corrupted ledgers and Stripe accounts. Corruption is written inside a transaction that
 * is rolled back, or as bare fixture rows (no workflow id) that the suite-end check leaves out.
 */

let env: PurchaseEnv;
let paying: Shopper;
let declined: Shopper;
let completedIds: string[];
let failedId: string;

const DAY_MS = 24 * 60 * 60 * 1000;

function check(sql: postgres.Sql | postgres.TransactionSql, organizationId: string, withStripe = true) {
  return checkInvariants(
    { sql, stripe: withStripe ? env.stripe : null },
    { organizationId, purchaseDeadlineMs: DAY_MS },
  );
}

function invariantsOf(report: InvariantReport) {
  return report.violations.map((v) => [v.invariant, v.purchaseId]);
}

/** A bare purchase row (no workflow id: not made by checkout), as the database-constraint tests write. */
async function fixturePurchase(
  sql: postgres.Sql | postgres.TransactionSql,
  who: Shopper,
  status: string,
  id: string = newId('purchase'),
): Promise<string> {
  await sql`
    insert into purchases (id, organization_id, customer_id, credit_pack_id, quantity, unit_credits,
                           unit_price_cents, credits, price_cents, status, idempotency_key, request_hash)
    values (${id}, ${who.organizationId}, ${who.customerId}, ${who.packId}, 1, ${who.packCredits},
            ${who.packPriceCents}, ${who.packCredits}, ${who.packPriceCents}, ${status}, ${`fixture-${id}`},
            ${'0'.repeat(64)})`;
  return id;
}

async function grant(sql: postgres.Sql | postgres.TransactionSql, who: Shopper, purchaseId: string) {
  await sql`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
    values (${who.organizationId}, ${who.customerId}, 'purchased', 'purchase_grant', ${who.packCredits}, ${purchaseId})`;
}

/** Refunds planted charges in full, so no later check finds their money kept. */
async function refundAll(paymentIntentIds: string[]): Promise<void> {
  for (const id of paymentIntentIds) await env.stripe.refunds.create({ payment_intent: id });
}

/** A succeeded off-session charge in the emulator carrying `purchaseId`'s metadata, as the product makes. */
async function chargeInStripe(who: Shopper, purchaseId: string) {
  const customer = await env.stripe.customers.retrieve(who.stripeCustomerId as string);
  const paymentMethod = (customer as { invoice_settings: { default_payment_method: string } })
    .invoice_settings.default_payment_method;
  return await env.stripe.paymentIntents.create({
    amount: who.packPriceCents,
    currency: 'usd',
    customer: who.stripeCustomerId as string,
    payment_method: paymentMethod,
    confirm: true,
    off_session: true,
    metadata: { purchase_id: purchaseId, organization_id: who.organizationId },
  });
}

beforeAll(async () => {
  env = await purchaseEnv();
  paying = await env.shopper({ card: 'pm_card_visa' });
  declined = await env.shopper({ card: 'pm_card_chargeCustomerFail' });
  const first = await env.buy(paying);
  const second = await env.buy(paying, { quantity: 2 });
  const failing = await env.buy(declined);
  const results = await Promise.all([first.handle.result(), second.handle.result(), failing.handle.result()]);
  expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'failed']);
  completedIds = [first.purchaseId, second.purchaseId];
  failedId = failing.purchaseId;
});
afterAll(() => env?.close());

describe('the invariant checker', () => {
  it('holds after real purchases: completed ones charged once and credited, a declined one neither', async () => {
    const ok = await check(env.sql, paying.organizationId);
    expect(ok).toMatchObject({ violations: [], reviews: [], purchasesChecked: 2, stripeChecked: true });
    const failed = await check(env.sql, declined.organizationId);
    expect(failed).toMatchObject({ violations: [], purchasesChecked: 1, customersChecked: 1 });
  });

  it('fails on a corrupted ledger: credits for a declined purchase, a reversal nobody refunded', async () => {
    const report = await inRolledBackTransaction(env.sql, async (tx) => {
      await grant(tx, declined, failedId);
      await tx`
        insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, purchase_id)
        values (${paying.organizationId}, ${paying.customerId}, 'purchased', 'reversal', -100, ${completedIds[0] as string})`;
      return {
        declined: await check(tx, declined.organizationId),
        paying: await check(tx, paying.organizationId),
      };
    });
    expect(invariantsOf(report.declined)).toEqual([
      ['credits_match_charge', failedId],
      ['grants_match_completed', null],
      ['balance_matches_ledger', null],
    ]);
    expect(report.declined.violations[0]?.message).toMatch(/holds 500 credits .*without a standing charge/);
    expect(invariantsOf(report.paying)).toEqual([
      ['credits_match_charge', completedIds[0]],
      ['grants_match_completed', null],
      // the purchased balance recomputed from the purchases disagrees with the ledger too
      ['balance_matches_ledger', null],
    ]);
    // Rolled back: the real state holds again.
    expect((await check(env.sql, declined.organizationId)).violations).toEqual([]);
  });

  it('fails on a completed purchase with no charge, and on one left open past its deadline', async () => {
    const report = await inRolledBackTransaction(env.sql, async (tx) => {
      const uncharged = await fixturePurchase(tx, declined, 'crediting');
      await grant(tx, declined, uncharged);
      await tx`update purchases set status = 'completed' where id = ${uncharged}`;
      const open = await fixturePurchase(tx, declined, 'charging');
      await tx`update purchases set created_at = now() - interval '2 days' where id = ${open}`;
      return { uncharged, open, report: await check(tx, declined.organizationId) };
    });
    expect(invariantsOf(report.report)).toEqual([
      ['no_stuck_purchase', report.open],
      ['completed_charged', report.uncharged],
    ]);
    expect(report.report.violations[0]?.message).toMatch(/still charging 2880 min after checkout/);
  });

  it('fails on a purchase charged twice in Stripe, a refunded purchase whose money was kept, and a completed one refunded', async () => {
    const planted: string[] = [];
    const twice = newId('purchase');
    const kept = newId('purchase');
    const refundedButCredited = newId('purchase');
    // The rows exist only inside the rolled-back transaction; the emulator's charges name ids no row
    // will ever hold, so they stay invisible to every later check.
    const report = await inRolledBackTransaction(env.sql, async (tx) => {
      await fixturePurchase(tx, paying, 'crediting', twice);
      await fixturePurchase(tx, paying, 'refunded', kept);
      await grant(tx, paying, twice);
      const first = await chargeInStripe(paying, twice);
      planted.push(
        first.id,
        (await chargeInStripe(paying, twice)).id,
        (await chargeInStripe(paying, kept)).id,
      );
      await fixturePurchase(tx, paying, 'crediting', refundedButCredited);
      await grant(tx, paying, refundedButCredited);
      const refundedCharge = await chargeInStripe(paying, refundedButCredited);
      await env.stripe.refunds.create({ payment_intent: refundedCharge.id });
      await tx`update purchases set status = 'completed', stripe_payment_intent_id = ${refundedCharge.id}
                where id = ${refundedButCredited}`;
      await tx`update purchases set status = 'completed', stripe_payment_intent_id = ${first.id} where id = ${twice}`;
      return await check(tx, paying.organizationId);
    });
    expect(invariantsOf(report)).toEqual(
      expect.arrayContaining([
        ['one_charge', twice],
        ['completed_charged', twice],
        ['refunded_in_full', kept],
        ['completed_charged', refundedButCredited],
      ]),
    );
    expect(report.violations).toHaveLength(4);
    expect(report.violations.find((v) => v.purchaseId === refundedButCredited)?.message).toContain(
      `${paying.packPriceCents} cents refunded but credits kept`,
    );
    // The planted purchases were rolled back: give their money back, or later checks see it kept.
    await refundAll(planted);
  });

  it('reads Stripe account-wide: a second charge on another Stripe customer, and money for no purchase', async () => {
    const [completedId] = completedIds as [string];
    const stranger = await env.stripe.customers.create({ email: 'stranger@example.test' });
    const card = await env.stripe.paymentMethods.attach('pm_card_visa', { customer: stranger.id });
    const secondCharge = await env.stripe.paymentIntents.create({
      amount: paying.packPriceCents,
      currency: 'usd',
      customer: stranger.id,
      payment_method: card.id,
      confirm: true,
      off_session: true,
      metadata: { purchase_id: completedId, organization_id: paying.organizationId },
    });
    const ghost = newId('purchase');
    const ghostCharge = await chargeInStripe(paying, ghost);
    try {
      const report = await check(env.sql, paying.organizationId);
      expect(invariantsOf(report)).toEqual(
        expect.arrayContaining([
          ['one_charge', completedId],
          ['money_has_purchase', ghost],
        ]),
      );
      expect(report.violations.find((v) => v.invariant === 'money_has_purchase')?.message).toContain(
        ghostCharge.id,
      );
    } finally {
      await refundAll([secondCharge.id, ghostCharge.id]);
    }
    // Refunded, the money is gone: nothing is reported any more.
    expect((await check(env.sql, paying.organizationId)).violations).toEqual([]);
  });

  it('recomputes the purchased balance from the purchases, not from the sum the balance view is made of', async () => {
    const [completedId] = completedIds as [string];
    const report = await inRolledBackTransaction(env.sql, async (tx) => {
      // The row says 100 credits went back to a refund; no ledger entry took them.
      await tx`update purchases set credits_reversed_by_refunds = 100 where id = ${completedId}`;
      return await check(tx, paying.organizationId, false);
    });
    expect(report.violations.map((v) => v.invariant)).toEqual(
      expect.arrayContaining(['balance_matches_ledger', 'grants_match_completed']),
    );
  });

  it('`npm run invariants` exits 1 and names the violation; 0 when all hold; 2 on bad usage', async () => {
    // A committed fixture (bare row, no workflow): credits granted to a canceled purchase.
    const canceled = await fixturePurchase(env.sql, declined, 'canceled');
    await grant(env.sql, declined, canceled);
    const run = promisify(execFile);
    const cli = (args: string[]) =>
      run('npx', ['tsx', 'src/invariants/cli.ts', ...args], {
        env: { ...process.env, STACK_PROFILE: 'test' },
        timeout: 60_000,
      }).then(
        (out) => ({ code: 0, stdout: out.stdout, stderr: out.stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const bad = await cli(['--organization', declined.organizationId]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`credits_match_charge: ${canceled} (canceled): holds 500 credits`);
    const good = await cli(['--organization', paying.organizationId, '--json']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ purchasesChecked: 2, violations: [] });
    const usage = await cli(['--since', 'yesterday-ish']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--since: "yesterday-ish" is not a date');
  });
});
