import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeRecordsOf } from '../support/emulator-control';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

describe('a customer with a card on file', () => {
  it('is charged once and credited once: pending → charging → crediting → completed', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, handle } = await env.buy(shopper);
    const result = await handle.result();

    expect(result.status).toBe('completed');
    expect(result.failure).toBeNull();
    const row = await env.row(purchaseId);
    expect(row.status).toBe('completed');
    expect(row.next_action).toBeNull();
    expect(row.stripe_payment_intent_id).toBe(result.paymentIntentId);

    const transitions = await env.sql<{ from: string | null; to: string }[]>`
      select from_status as from, to_status as to from purchase_transitions where purchase_id = ${purchaseId} order by id`;
    expect(transitions.map((t) => t.to)).toEqual(['pending', 'charging', 'crediting', 'completed']);

    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents).toHaveLength(1);
    expect(stripe.paymentIntents[0]).toMatchObject({
      status: 'succeeded',
      amount: 4000,
      customer: shopper.stripeCustomerId,
    });
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect(stripe.refunds).toHaveLength(0);
  });

  it('charges quantity × price once and grants quantity × credits once', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { purchaseId, handle } = await env.buy(shopper, { quantity: 3 });
    expect((await handle.result()).status).toBe('completed');
    expect(await env.balance(shopper)).toEqual({ purchased: 1500, plan: 0 });
    const stripe = await stripeRecordsOf(env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.amount)).toEqual([12_000]);
  });

  it('a repeated checkout with the same key is the same purchase, charged once', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const [first, second] = await Promise.all([
      env.buy(shopper, { idempotencyKey: 'double-click' }),
      env.buy(shopper, { idempotencyKey: 'double-click' }),
    ]);
    expect(second.purchaseId).toBe(first.purchaseId);
    expect((await first.handle.result()).status).toBe('completed');
    // Once settled, starting it again does not run it again.
    const again = await env.buy(shopper, { idempotencyKey: 'double-click' });
    expect(again.purchaseId).toBe(first.purchaseId);
    expect(await env.balance(shopper)).toEqual({ purchased: 500, plan: 0 });
    expect((await stripeRecordsOf(env.emulatorUrl, first.purchaseId)).paymentIntents).toHaveLength(1);
  });

  it('keeps the status search attribute current for operators', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const { handle } = await env.buy(shopper);
    await handle.result();
    const description = await handle.describe();
    const attributes = description.typedSearchAttributes;
    const value = (name: string) => attributes.getAll().find((pair) => pair.key.name === name)?.value;
    expect(value('CreditPackPurchaseStatus')).toBe('completed');
    expect(value('CreditPackCustomerId')).toBe(shopper.customerId);
    expect(value('CreditPackOrganizationId')).toBe(shopper.organizationId);
    expect(value('CreditPackId')).toBe(shopper.packId);

    // An operator finds it through the visibility API (what the Temporal UI's filter box calls) by each
    // attribute, alone and combined; a filter that does not match finds nothing.
    const find = async (query: string) => {
      const ids: string[] = [];
      for await (const execution of env.temporal.client.workflow.list({ query }))
        ids.push(execution.workflowId);
      return ids;
    };
    const queries = [
      `CreditPackOrganizationId = '${shopper.organizationId}'`,
      `CreditPackCustomerId = '${shopper.customerId}'`,
      `CreditPackId = '${shopper.packId}'`,
      `CreditPackCustomerId = '${shopper.customerId}' AND CreditPackPurchaseStatus = 'completed'`,
    ];
    for (const query of queries) {
      // Visibility is eventually consistent: poll until the purchase is listed.
      const found = await waitFor(async () => {
        const ids = await find(query);
        return ids.length > 0 ? ids : null;
      }, `the visibility query ${query}`);
      expect(found, query).toEqual([handle.workflowId]);
    }
    expect(
      await find(`CreditPackCustomerId = '${shopper.customerId}' AND CreditPackPurchaseStatus = 'failed'`),
    ).toEqual([]);

    // Each activity carries a readable summary for the UI's timeline, the local one too (on its marker).
    // The status writes are inside the charge and the grant (test/purchase/round-trips.test.ts).
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter(
        (e) =>
          e.activityTaskScheduledEventAttributes ||
          e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      )
      .map((e) => e.userMetadata?.summary?.data && Buffer.from(e.userMetadata.summary.data).toString('utf8'));
    expect(summaries).toEqual([
      '"check eligibility"',
      '"find the card on file"',
      '"charge 4000 cents off-session"',
      '"grant 500 credits"',
    ]);
  });
});
