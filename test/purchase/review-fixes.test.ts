import { WorkflowIdReusePolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purchaseTimeouts } from '../../src/purchases';
import { paymentOutcomeSignal, purchaseWorkflow } from '../../src/workflows';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

// A private emulator: the refund faults below must hit only this file's requests.
let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

describe('one run per purchase, ever', () => {
  it('a second run for a settled purchase (as after Temporal forgot the first) touches nothing', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    const before = await env.row(purchaseId);

    // Another run with the same input, under another workflow id: what a restart after the closed
    // run left Temporal's retention would be.
    const again = await env.temporal.client.workflow.execute(purchaseWorkflow, {
      workflowId: `${handle.workflowId}:rerun`,
      taskQueue: env.temporal.taskQueue,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [
        {
          purchaseId,
          organizationId: shopper.organizationId,
          customerId: shopper.customerId,
          creditPackId: shopper.packId,
          quantity: 1,
          ...purchaseTimeouts(env.config),
        },
      ],
    });
    expect(again.failure?.code).toBe('purchase_claimed_elsewhere');
    const after = await env.row(purchaseId);
    expect(after.status).toBe('completed');
    expect(after.updated_at).toEqual(before.updated_at);
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.refunds).toHaveLength(0);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });
});

describe('compensations', () => {
  it('a refund Stripe refuses at first (401, 500) is retried until it lands; the purchase ends refunded', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'requires_action');
    const paymentIntentId = waiting.paymentIntentId as string;
    await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
    const control = emulatorControl(env.emulatorUrl);
    await control.fault({
      match: { method: 'POST', path: '/v1/refunds' },
      times: 1,
      action: { type: 'status', status: 401 },
    });
    await control.fault({
      match: { method: 'POST', path: '/v1/refunds' },
      times: 1,
      action: { type: 'status', status: 500 },
    });
    const paymentIntent = await env.stripe.paymentIntents.retrieve(paymentIntentId);
    await env.stripe.paymentIntents.confirm(paymentIntentId, {
      payment_method: paymentIntent.last_payment_error?.payment_method?.id,
    });
    await control.authenticatePaymentIntent(paymentIntentId, 'succeed');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });

    const result = await handle.result();
    expect(result.status).toBe('refunded');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.refunds.map((r) => r.amount)).toEqual([4000]);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });
});

describe('a card recorded on our side that Stripe declines', () => {
  it('fails that purchase, is forgotten, and the next purchase asks for a card', async () => {
    const shopper = await env.shopper({ recordedCard: 'pm_card_visa_chargeDeclinedInsufficientFunds' });
    const first = await env.buy(shopper);
    expect((await first.handle.result()).failure?.code).toBe('card_declined');
    const [customer] = await env.sql<{ pm: string | null }[]>`
      select default_payment_method_id as pm from customers where id = ${shopper.customerId}`;
    expect(customer?.pm).toBeNull();
    const second = await env.buy(shopper);
    const waiting = await env.reaches(second.handle, 'awaiting_payment_method');
    expect(waiting.nextAction?.type).toBe('add_payment_method');
  });
});
