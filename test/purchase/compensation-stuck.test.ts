import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countStuckCompensations } from '../../src/db/purchase-status';
import { paymentOutcomeSignal } from '../../src/workflows';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';

/**
 * A compensation that cannot proceed is not hidden: while Stripe keeps refusing the refund, the
 * purchase keeps its status and shows failure code compensation_stuck (with the step and Stripe's
 * answer), counted by the worker's credit_pack_compensations_stuck gauge; once the refund goes
 * through, the purchase settles as usual.
 */

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv({ privateEmulator: true });
});
afterAll(() => env?.close());

describe('a compensation Stripe keeps refusing', () => {
  it('shows compensation_stuck on the row, status unchanged, until the refund goes through', async () => {
    const shopper = await env.shopper({ card: 'pm_card_authenticationRequired' });
    const { purchaseId, handle } = await env.buy(shopper);
    const waiting = await env.reaches(handle, 'requires_action');
    const paymentIntentId = waiting.paymentIntentId as string;
    // The credits cannot be granted (the customer is deleted), and Stripe fails the refund 4 times.
    await env.sql`update customers set deleted_at = now() where id = ${shopper.customerId}`;
    await emulatorControl(env.emulatorUrl).fault({
      match: { method: 'POST', path: '/v1/refunds' },
      times: 4,
      action: { type: 'status', status: 500 },
    });
    const paymentIntent = await env.stripe.paymentIntents.retrieve(paymentIntentId);
    await env.stripe.paymentIntents.confirm(paymentIntentId, {
      payment_method: paymentIntent.last_payment_error?.payment_method?.id,
    });
    await emulatorControl(env.emulatorUrl).authenticatePaymentIntent(paymentIntentId, 'succeed');
    await handle.signal(paymentOutcomeSignal, { paymentIntentId, outcome: 'succeeded' });

    const stuck = await waitFor(async () => {
      const row = await env.row(purchaseId);
      return row.failure_code === 'compensation_stuck' ? row : null;
    }, 'the purchase to show its stuck compensation');
    expect(stuck.status).toBe('crediting');
    expect(stuck.failure_message).toMatch(/^Could not refund the charge yet \(attempt \d+, retrying\)/);
    expect(await countStuckCompensations(env.sql)).toBeGreaterThanOrEqual(1);

    const result = await handle.result();
    expect(result.status).toBe('refunded');
    const settled = await env.row(purchaseId);
    expect(settled).toMatchObject({ status: 'refunded', failure_code: 'crediting_failed' });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.refunds).toHaveLength(1);
  });
});
