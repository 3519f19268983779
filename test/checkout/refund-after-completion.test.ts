// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../catalog/helpers';
import { waitFor } from '../support/wait';
import { type PortalHarness, portalHarness } from './harness';

let h: PortalHarness;
beforeAll(async () => {
  h = await portalHarness();
});
afterAll(() => h?.close());

/** A completed purchase of a customer with a card: its id, PaymentIntent id and the customer. */
async function completedPurchase() {
  const who = await h.customer({ card: 'pm_card_visa' });
  const res = await h.checkout(who);
  expect(res.status).toBe(202);
  const purchase = await h.purchaseReaches(who, res.body.data.id, 'completed');
  const [row] = await h.env.sql<{ pi: string }[]>`
    select stripe_payment_intent_id as pi from purchases where id = ${purchase.id}`;
  return { who, purchaseId: purchase.id as string, paymentIntentId: row?.pi as string };
}

async function purchasedCredits(customerId: string): Promise<number> {
  const [row] = await h.env.sql<{ purchased: number }[]>`
    select coalesce(sum(credits), 0)::int as purchased from credit_ledger
     where customer_id = ${customerId} and bucket = 'purchased'`;
  return row?.purchased ?? 0;
}

/** The outcomes the receiver recorded for the purchase's refund events (refund.created, charge.refunded…). */
async function refundEventOutcomes(purchaseId: string): Promise<string[]> {
  return (await h.stripeEvents({ purchaseId }))
    .filter((e) => e.type === 'charge.refunded' || e.type.startsWith('refund.'))
    .map((e) => e.outcome);
}

describe('a completed purchase refunded in Stripe directly (charge.refunded)', () => {
  it('in full: the credits are taken back once, and the purchase becomes refunded', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    expect(await purchasedCredits(who.id)).toBe(500);
    // A refund from Stripe's dashboard, outside the product; Stripe announces it by webhook.
    await h.env.stripe.refunds.create({ payment_intent: paymentIntentId });
    const purchase = await h.purchaseReaches(who, purchaseId, 'refunded');
    expect(purchase.failure.code).toBe('refunded_after_completion');
    expect(purchase).toMatchObject({ refundedAmount: 4000, creditsReversed: 500 });
    expect(await purchasedCredits(who.id)).toBe(0);
    // The first refund event takes the refund in; the others find nothing new.
    await waitFor(async () => (await refundEventOutcomes(purchaseId)).length >= 2, 'both refund events');
    const outcomes = await refundEventOutcomes(purchaseId);
    expect(outcomes.filter((o) => o === 'refunds_synced')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'refunds_synced').every((o) => o === 'ignored')).toBe(true);

    // The same event delivered again changes nothing.
    const eventId = (await h.stripeEvents({ purchaseId })).find((e) => e.type === 'charge.refunded')
      ?.id as string;
    await h.emulator('POST', '/webhooks/resend', { eventId });
    await waitFor(
      async () => ((await h.stripeEvents({ ids: [eventId] }))[0]?.deliveries ?? 0) >= 2,
      'the resend',
    );
    expect(await purchasedCredits(who.id)).toBe(0);
    const [reversals] = await h.env.sql<{ count: number }[]>`
      select count(*)::int as count from credit_ledger where purchase_id = ${purchaseId} and kind = 'reversal'`;
    expect(reversals?.count).toBe(1);
    const refunds = await ok(h.app, 'GET', `/v1/purchases/${purchaseId}/refunds`, { token: h.world.apiKey });
    expect(refunds).toMatchObject([
      { amount: 4000, creditsReversed: 500, status: 'succeeded', reason: null },
    ]);
    expect(refunds[0].id).toMatch(/^ref_/);
  });

  it('in part: credits are taken back in proportion, and the purchase stays completed', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    await h.env.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 1000 });
    await waitFor(
      async () => (await refundEventOutcomes(purchaseId)).includes('refunds_synced'),
      'the refund taken in',
    );
    // floor(500 credits × 1000 / 4000 cents) = 125 credits back
    expect(await purchasedCredits(who.id)).toBe(375);
    const purchase = await h.purchaseReaches(who, purchaseId, 'completed');
    expect(purchase).toMatchObject({ refundedAmount: 1000, creditsReversed: 125, dispute: null });
  });
});
