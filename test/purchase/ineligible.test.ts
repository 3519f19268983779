import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveCreditPack } from '../../src/db/credit-packs';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv, type ShopperOptions } from '../support/purchase-env';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

/** Runs a purchase to its end and checks it settled `ineligible` with `code`, and nothing was charged. */
async function expectIneligible(
  purchaseId: string,
  result: { status: string; failure: { code: string } | null },
  code: string,
) {
  expect(result.status).toBe('ineligible');
  expect(result.failure?.code).toBe(code);
  const row = await env.row(purchaseId);
  expect(row.status).toBe('ineligible');
  expect(row.failure_code).toBe(code);
  expect(row.failure_message).toEqual(expect.any(String));
  const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
  expect(stripe.paymentIntents).toHaveLength(0);
  expect(stripe.setupIntents).toHaveLength(0);
  const [grants] = await env.sql<{ count: number }[]>`
    select count(*)::int as count from credit_ledger where purchase_id = ${purchaseId}`;
  expect(grants?.count).toBe(0);
}

describe('a purchase the rules refuse ends ineligible, with its code, nothing charged', () => {
  const cases: [string, ShopperOptions, string][] = [
    ['a past-due subscription', { subscriptionStatus: 'past_due' }, 'subscription_past_due'],
    ['a canceled subscription', { subscriptionStatus: 'canceled' }, 'subscription_canceled'],
    ['an ended subscription', { subscriptionStatus: 'ended' }, 'subscription_ended'],
    ['a plan not on the credits model', { consumptionModel: 'usage_based' }, 'plan_not_credits_based'],
    ['a pack not visible to the plan', { packHiddenFromPlan: true }, 'pack_not_visible'],
  ];
  for (const [what, options, code] of cases) {
    it(`${what} → ${code}`, async () => {
      const shopper = await env.shopper({ card: 'pm_card_visa', ...options });
      const { purchaseId, handle } = await env.buy(shopper);
      await expectIneligible(purchaseId, await handle.result(), code);
    });
  }

  it('a pack archived between checkout and the workflow start → credit_pack_archived', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, start } = await env.record(shopper);
    await archiveCreditPack(env.sql, shopper.organizationId, shopper.packId);
    const handle = await start();
    await expectIneligible(purchaseId, await handle.result(), 'credit_pack_archived');
  });

  it('a subscription gone past due between checkout and the workflow start → subscription_past_due', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, start } = await env.record(shopper);
    await env.sql`update subscriptions set status = 'past_due' where customer_id = ${shopper.customerId}`;
    const handle = await start();
    await expectIneligible(purchaseId, await handle.result(), 'subscription_past_due');
  });

  it('a customer deleted before the workflow start → customer_not_found', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, start } = await env.record(shopper);
    await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
    const handle = await start();
    await expectIneligible(purchaseId, await handle.result(), 'customer_not_found');
  });
});
