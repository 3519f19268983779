// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('a completed purchase refunded afterwards (charge.refunded)', () => {
  it('in full: the credits are taken back once, and the purchase becomes refunded', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    expect(await purchasedCredits(who.id)).toBe(500);
    // A refund from Stripe's dashboard, outside the product; Stripe announces it by webhook.
    await h.env.stripe.refunds.create({ payment_intent: paymentIntentId });
    const purchase = await h.purchaseReaches(who, purchaseId, 'refunded');
    expect(purchase.failure.code).toBe('refunded_after_completion');
    expect(await purchasedCredits(who.id)).toBe(0);
    const events = await h.stripeEvents({ purchaseId });
    expect(events.filter((e) => e.type === 'charge.refunded').map((e) => e.outcome)).toEqual([
      'credits_reversed',
    ]);

    // The same event delivered again changes nothing.
    const eventId = events.find((e) => e.type === 'charge.refunded')?.id as string;
    await h.emulator('POST', '/webhooks/resend', { eventId });
    await waitFor(
      async () => ((await h.stripeEvents({ ids: [eventId] }))[0]?.deliveries ?? 0) >= 2,
      'the resend',
    );
    expect(await purchasedCredits(who.id)).toBe(0);
    const [reversals] = await h.env.sql<{ count: number }[]>`
      select count(*)::int as count from credit_ledger where purchase_id = ${purchaseId} and kind = 'reversal'`;
    expect(reversals?.count).toBe(1);
  });

  it('in part: the credits stay, the event is recorded for review', async () => {
    const { who, purchaseId, paymentIntentId } = await completedPurchase();
    await h.env.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 1000 });
    const event = await waitFor(
      async () => (await h.stripeEvents({ purchaseId })).find((e) => e.type === 'charge.refunded'),
      'the charge.refunded event',
    );
    expect(event.outcome).toBe('partial_refund_review');
    expect(await purchasedCredits(who.id)).toBe(500);
    await h.purchaseReaches(who, purchaseId, 'completed');
  });
});
