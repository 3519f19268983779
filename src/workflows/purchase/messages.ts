import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { NextAction, PurchaseStatus } from '../../domain/purchase-states';

/**
 * Everything a client may say to, or ask of, a purchase workflow. Defined once here and imported by
 * the portal, the webhook receiver, the starter and the tests, so names and payloads cannot drift.
 */

/** The workflow id of a purchase: derived from the business key, never random (defined in the domain). */
export { purchaseWorkflowId } from '../../domain/purchase-states';

export interface PurchaseInput {
  purchaseId: string;
  organizationId: string;
  customerId: string;
  creditPackId: string;
  quantity: number;
  /** How long to wait for the customer to add a card (CARD_WAIT_TIMEOUT_MS at start). */
  cardWaitTimeoutMs: number;
  /** How long to wait for the customer to pass 3-D Secure (AUTHENTICATION_WAIT_TIMEOUT_MS at start). */
  authenticationWaitTimeoutMs: number;
  /**
   * While waiting for a card or for 3-D Secure, re-read Stripe this often in case both the webhook and
   * the portal's message were lost (STRIPE_RECHECK_INTERVAL_MS at start). Absent from purchases started
   * before it existed: they wait for a message or the timeout, as they did.
   */
  stripeRecheckIntervalMs?: number;
  /**
   * The longest interval between those re-reads (STRIPE_RECHECK_MAX_INTERVAL_MS at start): each re-read
   * in a wait doubles the interval, from `stripeRecheckIntervalMs` up to this. Absent from purchases
   * started before it existed: they re-read at the fixed interval, as they did.
   */
  stripeRecheckMaxIntervalMs?: number;
  /**
   * What started the purchase. `auto_top_up`: charged off-session only, never waiting for the customer
   * (no card: failed `no_payment_method`; 3-D Secure needed: failed `authentication_required`). Absent
   * from purchases started before it existed, which behave as the portal's.
   */
  trigger?: 'portal' | 'auto_top_up' | 'admin';
}

export interface PurchaseFailure {
  code: string;
  message: string;
  /** Stripe's decline code when `code` is `card_declined` (insufficient_funds, generic_decline…). */
  declineCode?: string | null;
}

/** What the status query answers: the workflow's own view of the purchase. */
export interface PurchaseState {
  purchaseId: string;
  status: PurchaseStatus;
  nextAction: NextAction | null;
  failure: PurchaseFailure | null;
  setupIntentId: string | null;
  paymentIntentId: string | null;
  refundId: string | null;
  cancelRequested: boolean;
}

export const purchaseStatusQuery = defineQuery<PurchaseState>('purchaseStatus');

/**
 * A SetupIntent of this purchase succeeded (the `setup_intent.succeeded` webhook, or the portal after
 * Stripe.js confirmed the card). Only a hint: the workflow re-reads the SetupIntent from Stripe.
 */
export interface PaymentMethodAdded {
  setupIntentId: string;
}
export const paymentMethodAddedSignal = defineSignal<[PaymentMethodAdded]>('paymentMethodAdded');

/**
 * The on-session authentication (3-D Secure) of this purchase's PaymentIntent finished, well or badly
 * (`payment_intent.succeeded` / `payment_intent.payment_failed`). Also a hint: the workflow re-reads
 * the PaymentIntent.
 */
export interface PaymentOutcome {
  paymentIntentId: string;
  /** What the event said; success is always re-read from Stripe before crediting. */
  outcome: 'succeeded' | 'failed';
}
export const paymentOutcomeSignal = defineSignal<[PaymentOutcome]>('paymentOutcome');

export interface CancelRequest {
  /** Who asked: the customer (portal) or an operator. Recorded in the failure message. */
  requestedBy: 'customer' | 'operator';
}
/**
 * Cancel a purchase that is still waiting (for a card or for 3-D Secure) or not yet charged.
 * Rejected by the validator once the charge is under way or the purchase is settled, so the caller
 * learns at once that it is too late. An operator's Temporal cancellation also stops a purchase; after
 * a charge that one refunds it.
 */
export const cancelPurchaseUpdate = defineUpdate<PurchaseState, [CancelRequest]>('cancelPurchase');
