import type postgres from 'postgres';
import type Stripe from 'stripe';
import { findPurchase, findPurchaseByStripeObject } from '../db/purchases';
import { closeDispute, openDispute, type StripeRefundFacts, syncStripeRefunds } from '../db/refunds';
import type { StripeEventOutcome } from '../db/stripe-events';

/**
 * Money moved in Stripe, outside the purchase's workflow: refunds (made in the dashboard, by support,
 * by the product itself) and disputes. The webhook receiver takes these events in at any purchase
 * status, in any order, any number of times: the purchase is the one whose recorded PaymentIntent the
 * event concerns (never the event's metadata alone; before the charge's answer is recorded, the
 * PaymentIntent's own metadata as Stripe holds it), and what Stripe holds now is re-read, so a stale
 * or duplicated event cannot apply an old state.
 */

/** The event types handled here. */
export const moneyEventTypes = new Set([
  'charge.refunded',
  'charge.refund.updated',
  'refund.created',
  'refund.updated',
  'refund.failed',
  'charge.dispute.created',
  'charge.dispute.closed',
]);

/** How many pages of a PaymentIntent's refunds are read (Stripe's pages hold 100). */
const REFUND_PAGES = 10;
const STRIPE_PAGE_SIZE = 100;

/** The PaymentIntent an event concerns, with the purchase its own metadata names (read from Stripe). */
interface PaymentIntentRef {
  paymentIntentId: string;
  metadataPurchase: { purchaseId: string; organizationId: string | null } | null;
}

export type MoneyEventPlan = PaymentIntentRef &
  (
    | { kind: 'refunds'; refunds: StripeRefundFacts[] }
    | { kind: 'dispute_opened'; disputeId: string; amountCents: number }
    | { kind: 'dispute_closed'; disputeId: string; won: boolean }
  );

const idOf = (value: unknown): string | null =>
  typeof value === 'string'
    ? value
    : value && typeof value === 'object' && 'id' in value
      ? String(value.id)
      : null;

/**
 * Reads from Stripe what the event's transaction needs (outside it, so no row lock waits on Stripe).
 * Null when the event concerns no PaymentIntent, or a dispute ends another way (warning_closed…).
 * Throws when Stripe cannot be read: the receiver answers 503 and Stripe delivers the event again.
 */
export async function prepareMoneyEvent(stripe: Stripe, event: Stripe.Event): Promise<MoneyEventPlan | null> {
  const object = event.data.object as unknown as Record<string, unknown>;
  if (event.type.startsWith('charge.dispute.')) {
    const disputeId = idOf(object.id);
    let paymentIntentId = idOf(object.payment_intent);
    const chargeId = idOf(object.charge);
    if (!paymentIntentId && chargeId)
      paymentIntentId = idOf((await stripe.charges.retrieve(chargeId)).payment_intent);
    if (!disputeId || !paymentIntentId) return null;
    if (event.type === 'charge.dispute.created') {
      const amountCents = typeof object.amount === 'number' ? object.amount : 0;
      if (amountCents <= 0) return null;
      return {
        kind: 'dispute_opened',
        ...(await paymentIntentRef(stripe, paymentIntentId)),
        disputeId,
        amountCents,
      };
    }
    const status = object.status;
    if (status !== 'won' && status !== 'lost') return null;
    return {
      kind: 'dispute_closed',
      ...(await paymentIntentRef(stripe, paymentIntentId)),
      disputeId,
      won: status === 'won',
    };
  }
  const paymentIntentId = idOf(object.payment_intent);
  if (!paymentIntentId) return null;
  return {
    kind: 'refunds',
    ...(await paymentIntentRef(stripe, paymentIntentId)),
    refunds: await listStripeRefunds(stripe, paymentIntentId),
  };
}

/** The PaymentIntent as Stripe holds it: the purchase its metadata names (set by the charge). */
async function paymentIntentRef(stripe: Stripe, paymentIntentId: string): Promise<PaymentIntentRef> {
  const paymentIntent = await stripe.paymentIntents.retrieve(paymentIntentId);
  const purchaseId = paymentIntent.metadata?.purchase_id;
  return {
    paymentIntentId,
    metadataPurchase: purchaseId
      ? { purchaseId, organizationId: paymentIntent.metadata?.organization_id ?? null }
      : null,
  };
}

/**
 * The purchase whose recorded PaymentIntent this is; or, while a purchase has recorded none yet (the
 * event outran the charge's answer), the one the PaymentIntent's own metadata names, read from Stripe.
 */
async function purchaseOf(tx: postgres.TransactionSql, plan: PaymentIntentRef) {
  const recorded = await findPurchaseByStripeObject(tx, { kind: 'payment_intent', id: plan.paymentIntentId });
  if (recorded || !plan.metadataPurchase) return recorded;
  const named = await findPurchase(tx, plan.metadataPurchase.purchaseId);
  const sameOrganization =
    plan.metadataPurchase.organizationId === null ||
    plan.metadataPurchase.organizationId === named?.organization_id;
  return named && named.stripe_payment_intent_id === null && sameOrganization ? named : null;
}

async function listStripeRefunds(stripe: Stripe, paymentIntentId: string): Promise<StripeRefundFacts[]> {
  const found: StripeRefundFacts[] = [];
  let startingAfter: string | undefined;
  for (let page = 0; page < REFUND_PAGES; page += 1) {
    const list = await stripe.refunds.list({
      payment_intent: paymentIntentId,
      limit: STRIPE_PAGE_SIZE,
      ...(startingAfter ? { starting_after: startingAfter } : {}),
    });
    for (const refund of list.data) {
      found.push({
        id: refund.id,
        amount: refund.amount,
        status: refund.status,
        metadata: refund.metadata ?? null,
        failureReason: refund.failure_reason ?? null,
      });
    }
    if (!list.has_more || list.data.length === 0) break;
    startingAfter = list.data.at(-1)?.id;
  }
  // Oldest first, so refunds are recorded in the order Stripe made them.
  return found.reverse();
}

/** Applies the plan in the event's transaction. */
export async function applyMoneyEvent(
  tx: postgres.TransactionSql,
  plan: MoneyEventPlan,
): Promise<{ outcome: StripeEventOutcome; purchaseId: string | null }> {
  const purchase = await purchaseOf(tx, plan);
  if (!purchase) return { outcome: 'unmatched', purchaseId: null };
  switch (plan.kind) {
    case 'refunds': {
      const changed = await syncStripeRefunds(tx, purchase.id, plan.refunds);
      return { outcome: changed > 0 ? 'refunds_synced' : 'ignored', purchaseId: purchase.id };
    }
    case 'dispute_opened': {
      const opened = await openDispute(tx, purchase.id, {
        stripeDisputeId: plan.disputeId,
        amountCents: plan.amountCents,
      });
      return { outcome: opened ? 'dispute_opened' : 'ignored', purchaseId: purchase.id };
    }
    case 'dispute_closed': {
      const closed = await closeDispute(tx, purchase.id, { stripeDisputeId: plan.disputeId, won: plan.won });
      return { outcome: closed ? 'dispute_closed' : 'ignored', purchaseId: purchase.id };
    }
  }
}
