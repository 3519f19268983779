import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelPurchaseUpdate, paymentOutcomeSignal } from '../../src/workflows';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

// A private emulator: the stall fault below must not touch other test files' requests.
let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

async function authenticate(paymentIntentId: string) {
  const paymentIntent = await env.stripe.paymentIntents.retrieve(paymentIntentId);
  await env.stripe.paymentIntents.confirm(paymentIntentId, {
    payment_method: paymentIntent.last_payment_error?.payment_method?.id,
  });
  await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, 'succeed');
}

describe('crediting that cannot complete', () => {
  it('the customer deleted after the charge → refunded, no credits, one refund of the full amount', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'requires_action');
    const paymentIntentId = waiting.paymentIntentId as string;
    // Between the charge and the credit, the customer is deleted.
    await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
    await authenticate(paymentIntentId);
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });

    const result = await handle.result();
    expect(result.status).toBe('refunded');
    expect(result.failure?.code).toBe('crediting_failed');
    expect(result.refundId).toMatch(/^re_/);
    const row = await env.row(purchaseId);
    expect(row).toMatchObject({
      status: 'refunded',
      failure_code: 'crediting_failed',
      stripe_refund_id: result.refundId,
    });
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.refunds).toHaveLength(1);
    expect(stripe.refunds[0]).toMatchObject({ amount: 4000, payment_intent: paymentIntentId });
    expect(stripe.charges.filter((c) => c.status === 'succeeded').map((c) => c.amount_refunded)).toEqual([
      4000,
    ]);
    // The refund is on the purchase's record although it never completed (the compensation's own).
    const refunds = await env.sql<{ amount: number; source: string; status: string; stripeId: string }[]>`
      select amount_cents as amount, source, status, stripe_refund_id as "stripeId" from refunds
       where purchase_id = ${purchaseId}`;
    expect(refunds).toEqual([
      { amount: 4000, source: 'compensation', status: 'succeeded', stripeId: result.refundId },
    ]);
    expect(await env.row(purchaseId)).toMatchObject({
      refunded_amount_cents: 4000,
      credits_reversed_by_refunds: 0,
    });
  });
});

describe('canceling', () => {
  it('by the customer while waiting for a card → canceled, SetupIntent canceled, nothing charged', async () => {
    const shopper = await env.shopper();
    const { purchaseId, handle } = await env.buy(shopper);
    await env.reaches(handle, 'awaiting_payment_method');
    const settled = await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
    expect(settled.status).toBe('canceled');
    expect(settled.failure).toEqual({ code: 'canceled', message: 'Canceled by the customer.' });
    expect((await handle.result()).status).toBe('canceled');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.setupIntents.map((si) => si.status)).toEqual(['canceled']);
    expect(stripe.paymentIntents).toHaveLength(0);
    expect(await env.row(purchaseId)).toMatchObject({ status: 'canceled', next_action: null });
  });

  it('by the customer while waiting for 3-D Secure → canceled, PaymentIntent canceled', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper);
    await env.reaches(handle, 'requires_action');
    const settled = await handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] });
    expect(settled.status).toBe('canceled');
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['canceled']);
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
  });

  it('by an operator (Temporal cancellation) while waiting for a card → canceled', async () => {
    const shopper = await env.shopper();
    const { purchaseId, handle } = await env.buy(shopper);
    await env.reaches(handle, 'awaiting_payment_method');
    await handle.cancel();
    const result = await handle.result();
    expect(result.status).toBe('canceled');
    expect(result.failure?.message).toBe('Canceled by an operator.');
    expect((await stripeRecordsOf(env.emulatorUrl, purchaseId)).setupIntents.map((si) => si.status)).toEqual([
      'canceled',
    ]);
  });

  it('is refused once the purchase is settled', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { handle } = await env.buy(shopper);
    expect((await handle.result()).status).toBe('completed');
    // A closed workflow takes no updates at all; the portal answers purchase_not_cancelable from the row.
    await expect(
      handle.executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] }),
    ).rejects.toThrow();
  });

  it('is refused by the validator while the charge is under way, and the purchase completes', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'POST', path: '/v1/payment_intents' },
      times: 1,
      action: { type: 'stall', ms: 2_000 },
    });
    const { handle } = await env.buy(shopper);
    await env.reaches(handle, 'charging');
    const refused = await handle
      .executeUpdate(cancelPurchaseUpdate, { args: [{ requestedBy: 'customer' }] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/can no longer be canceled/);
    expect((await handle.result()).status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
  });

  it('by an operator after the charge went out → the charge completes, then is refunded (non-cancellable)', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'POST', path: '/v1/payment_intents' },
      times: 1,
      action: { type: 'stall', ms: 2_000 },
    });
    const { purchaseId, handle } = await env.buy(shopper);
    await env.reaches(handle, 'charging');
    await handle.cancel(); // while Stripe is still processing the charge
    const result = await handle.result();
    expect(result.status).toBe('refunded');
    expect(result.failure?.code).toBe('canceled');
    expect(await env.balance(shopper)).toEqual({ purchased: 0, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.status)).toEqual(['succeeded']);
    expect(stripe.refunds.map((r) => r.amount)).toEqual([4000]);
    const transitions = await env.sql<{ to: string }[]>`
      select to_status as to from purchase_transitions where purchase_id = ${purchaseId} order by id`;
    expect(transitions.map((t) => t.to)).toEqual(['pending', 'charging', 'refunded']);
  });
});
