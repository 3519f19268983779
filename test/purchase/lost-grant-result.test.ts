import { randomUUID } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { FailureType, nonRetryable } from '../../src/activities/failures';
import { createPurchase, purchaseTimeouts, startPurchaseWorkflow } from '../../src/purchases';
import { createWorker } from '../../src/temporal/create-worker';
import { purchaseWorkflowId } from '../../src/workflows';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { workflowBundle } from '../support/worker';

/**
 * The grant committed, but its answer never reached the workflow and its retries ran out (a lost
 * result, then a long Postgres outage): the workflow takes crediting as failed and refunds the charge.
 * The refund is then taken in with the credits it is worth, so the customer ends refunded with no
 * credits, never refunded with the credits kept. The fault is injected at the activity boundary: the
 * real grant runs against the real database, then its answer is replaced by the failure the workflow
 * would see.
 */

let env: PurchaseEnv;
let connection: NativeConnection;
let stopWorker: () => Promise<void>;
const taskQueue = `test-lost-grant-${randomUUID()}`;

beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
  const activities = createActivities({ config: env.config, sql: env.sql, stripe: env.stripe });
  const grantThenLoseTheAnswer: typeof activities.grantPurchasedCredits = async (input) => {
    await activities.grantPurchasedCredits(input);
    throw nonRetryable(FailureType.CreditingRefused, 'test: the grant committed but its answer was lost');
  };
  connection = await NativeConnection.connect({ address: env.config.temporalAddress });
  const worker = await createWorker({
    config: env.config,
    connection,
    activities: { ...activities, grantPurchasedCredits: grantThenLoseTheAnswer },
    workflowBundle: await workflowBundle(),
    taskQueue,
  });
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
  };
});
afterAll(async () => {
  await stopWorker?.();
  await connection?.close();
  await env?.close();
});

describe('a committed grant whose answer is lost for good', () => {
  it('ends refunded with the credits taken back: money and credits agree', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchase } = await createPurchase(
      env.sql,
      {
        organizationId: shopper.organizationId,
        customerId: shopper.customerId,
        creditPackId: shopper.packId,
        quantity: 1,
        idempotencyKey: randomUUID(),
      },
      { maxQuantity: env.config.MAX_PURCHASE_QUANTITY },
    );
    await startPurchaseWorkflow(env.temporal.client, purchase, {
      taskQueue,
      timeouts: purchaseTimeouts(env.config),
    });
    const result = await env.temporal.client.workflow.getHandle(purchaseWorkflowId(purchase.id)).result();
    expect(result.status).toBe('refunded');

    const stripe = await stripeRecordsOf(env.emulatorUrl, purchase.id);
    expect(stripe.refunds.map((r) => r.amount)).toEqual([4000]);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
    const [row] = await env.sql<{ status: string; refunded: number; reversed: number }[]>`
      select status, refunded_amount_cents as refunded, credits_reversed_by_refunds as reversed
        from purchases where id = ${purchase.id}`;
    expect(row).toEqual({ status: 'refunded', refunded: 4000, reversed: 500 });
  });
});
