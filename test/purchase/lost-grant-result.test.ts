import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { FailureType, nonRetryable } from '../../src/activities/failures';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

/**
 * The grant committed, but its answer never reached the workflow and its retries ran out (a lost
 * result, then a long Postgres outage): the workflow takes crediting as failed and refunds the charge.
 * The refund is then taken in with the credits it is worth, so the customer ends refunded with no
 * credits, never refunded with the credits kept. The fault is injected at the activity boundary: the
 * real grant runs against the real database, then its answer is replaced by the failure the workflow
 * would see.
 */

let env: PurchaseEnv;
let taskQueue: string;

beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
  const activities = createActivities({ config: env.config, sql: env.sql, stripe: env.stripe });
  ({ taskQueue } = await env.workerWith({
    grantPurchasedCredits: async (input) => {
      await activities.grantPurchasedCredits(input);
      throw nonRetryable(FailureType.CreditingRefused, 'test: the grant committed but its answer was lost');
    },
  }));
});
afterAll(() => env?.close());

describe('a committed grant whose answer is lost for good', () => {
  it('ends refunded with the credits taken back: money and credits agree', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, start } = await env.record(shopper);
    const result = await (await start({ taskQueue })).result();
    expect(result.status).toBe('refunded');

    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.refunds.map((r) => r.amount)).toEqual([4000]);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
    const [row] = await env.sql<{ status: string; refunded: number; reversed: number }[]>`
      select status, refunded_amount_cents as refunded, credits_reversed_by_refunds as reversed
        from purchases where id = ${purchaseId}`;
    expect(row).toEqual({ status: 'refunded', refunded: 4000, reversed: 500 });
  });
});
