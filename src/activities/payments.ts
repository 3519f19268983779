import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import type { Sql } from '../db/client';
import { getCustomerPaymentProfile, linkStripeCustomer, recordDefaultCard } from '../db/customer-cards';
import { constraintViolation } from '../db/errors';
import { markCompensationStuck, recordPurchaseStatus, runOwnsPurchase } from '../db/purchase-status';
import { syncStripeRefunds } from '../db/refunds';
import { ForbiddenTransitionError } from '../domain/purchase-states';
import { defaultPaymentMethodOf, stripeCustomerCreation } from '../stripe/customers';
import { isUnexpectedState } from '../stripe/errors';
import { FailureType, nonRetryable } from './failures';
import { currentRunId } from './run-id';
import { compensating, stillProcessing, stripeCall, toActivityFailure } from './stripe-call';

/**
 * Stripe I/O of a purchase. Every call that creates or changes something carries an idempotency key
 * derived from the purchase id and the step (`<purchaseId>:charge`), passed in by the workflow's input,
 * never random and never the run id, and sends identical parameters on every attempt, so a retried
 * activity replays Stripe's first answer instead of acting twice.
 */

export const idempotencyKeys = {
  attachRecorded: (purchaseId: string) => `${purchaseId}:attach-recorded-card`,
  defaultRecorded: (purchaseId: string) => `${purchaseId}:default-recorded-card`,
  setup: (purchaseId: string) => `${purchaseId}:setup`,
  setupCancel: (purchaseId: string) => `${purchaseId}:setup-cancel`,
  defaultPaymentMethod: (purchaseId: string) => `${purchaseId}:default-payment-method`,
  /** the charge; after a stored 500 with no PaymentIntent behind it, `:charge:2`, `:charge:3`… */
  charge: (purchaseId: string, keyNumber = 1) =>
    keyNumber === 1 ? `${purchaseId}:charge` : `${purchaseId}:charge:${keyNumber}`,
  chargeCancel: (purchaseId: string) => `${purchaseId}:charge-cancel`,
  refund: (purchaseId: string, amountCents: number) => `${purchaseId}:refund:${amountCents}`,
  /** an operator's refund (its own workflow): one Stripe refund per refund id */
  apiRefund: (refundId: string) => `${refundId}:stripe-refund`,
};

export interface PaymentParties {
  stripeCustomerId: string;
  /** The card on file, or null when the customer must add one. */
  paymentMethodId: string | null;
  /**
   * No card on file and `askForCard` was sent: the SetupIntent that asks the customer for one (made
   * in the same activity, under the same key as `createSetupIntent`'s). Absent otherwise.
   */
  setupIntent?: SetupIntentRequest;
}

/** A SetupIntent asking for a card: its client secret goes to the portal, never to the logs. */
export interface SetupIntentRequest {
  setupIntentId: string;
  clientSecret: string;
}

export interface ChargeRequest {
  purchaseId: string;
  organizationId: string;
  stripeCustomerId: string;
  paymentMethodId: string;
  amountCents: number;
  currency: 'usd';
  /**
   * Sent by purchases past the workflow's `2026-11-27-status-writes-in-steps` patch: before Stripe
   * is asked, the row is recorded `charging` (with the SetupIntent its card came from, if any), in place
   * of the separate status write older purchases made first. Absent: that write was made already.
   */
  recordCharging?: { setupIntentId: string | null };
}

export type PaymentIntentStatus = Stripe.PaymentIntent.Status;

/** How many derived charge keys a purchase may use (each only after a stored 500 with no PaymentIntent). */
const MAX_CHARGE_KEYS = 5;

/**
 * A 5xx Stripe stored under the request's idempotency key and replayed (`Idempotent-Replayed: true`):
 * every retry with that key gets it again, for as long as the key lives.
 */
function isStoredServerError(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeError &&
    (error.statusCode ?? 0) >= 500 &&
    String(error.headers?.['idempotent-replayed'] ?? '').toLowerCase() === 'true'
  );
}

/** From this attempt on, a failing undo is shown on the purchase as compensation_stuck (about 3 s of retries in). */
const COMPENSATION_STUCK_AFTER_ATTEMPTS = 3;

/** Stripe's largest page of a list call. */
const STRIPE_PAGE_SIZE = 100;
/**
 * How many pages of a customer's PaymentIntents a refund searches for its purchase's charge when the
 * charge's answer was never received (newest first: 10 × 100 = the latest 1 000).
 */
const PAYMENT_INTENT_SEARCH_PAGES = 10;
/** A processing PaymentIntent is re-read every PROCESSING_POLL_INTERVAL_MS, up to PROCESSING_POLL_ATTEMPTS times (1 minute). */
const PROCESSING_POLL_INTERVAL_MS = 2_000;
const PROCESSING_POLL_ATTEMPTS = 30;

export function createPaymentActivities({ sql, stripe }: { sql: Sql; stripe: Stripe }) {
  /** Fails for good, touching nothing, unless this workflow run drives the purchase. */
  async function ensureRunOwnsPurchase(purchaseId: string): Promise<void> {
    if (await runOwnsPurchase(sql, purchaseId, currentRunId())) return;
    throw nonRetryable(
      FailureType.PurchaseClaimedElsewhere,
      `purchase ${purchaseId} is driven by another workflow run; this run moves no money`,
    );
  }

  /**
   * Records the row `charging` for this run, before anything is asked of Stripe (so the row never shows
   * less than what may be happening at Stripe). Checked against the transition table
   * (src/db/purchase-status.ts); a retried attempt finds it `charging` already and writes the same
   * values, which changes no status, logs no transition and records no event. A move the table or the
   * database refuses fails for good, as does a purchase driven by another run: nothing is charged.
   */
  async function recordCharging(purchaseId: string, setupIntentId: string | null): Promise<void> {
    let recorded: boolean;
    try {
      recorded = await recordPurchaseStatus(
        sql,
        { purchaseId, status: 'charging', nextAction: null, failure: null, setupIntentId },
        currentRunId(),
      );
    } catch (error) {
      if (error instanceof ForbiddenTransitionError || constraintViolation(error) !== null) {
        throw nonRetryable(
          FailureType.PurchaseTransitionRefused,
          `the database refused charging: ${(error as Error).message}`,
        );
      }
      throw error;
    }
    if (!recorded) {
      throw nonRetryable(
        FailureType.PurchaseClaimedElsewhere,
        `purchase ${purchaseId} is driven by another workflow run; this run moves no money`,
      );
    }
  }

  /** The PaymentIntent a purchase's charge key created, found by the metadata it carries. */
  async function findPaymentIntentOfPurchase(stripeCustomerId: string, purchaseId: string) {
    // Newest first, a bounded number of pages: a purchase's own PaymentIntent is among the latest.
    let startingAfter: string | undefined;
    for (let page = 0; page < PAYMENT_INTENT_SEARCH_PAGES; page += 1) {
      const list = await stripeCall(
        'list PaymentIntents',
        () =>
          stripe.paymentIntents.list({
            customer: stripeCustomerId,
            limit: STRIPE_PAGE_SIZE,
            ...(startingAfter ? { starting_after: startingAfter } : {}),
          }),
        compensating,
      );
      const found = list.data.find((pi) => pi.metadata?.purchase_id === purchaseId);
      if (found) return found;
      if (!list.has_more || list.data.length === 0) return null;
      startingAfter = list.data.at(-1)?.id;
    }
    return null;
  }

  /** Polls a processing PaymentIntent (heartbeating) for up to a minute; retryable if still unsettled. */
  async function waitWhileProcessing(paymentIntentId: string): Promise<Stripe.PaymentIntent> {
    for (let i = 0; i < PROCESSING_POLL_ATTEMPTS; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, PROCESSING_POLL_INTERVAL_MS));
      const current = await stripeCall('retrieve PaymentIntent', () =>
        stripe.paymentIntents.retrieve(paymentIntentId),
      );
      if (current.status !== 'processing') return current;
    }
    throw stillProcessing(`PaymentIntent ${paymentIntentId}`);
  }

  /** What an off-session charge's PaymentIntent means for the purchase. */
  function chargeResult(paymentIntent: Stripe.PaymentIntent): {
    paymentIntentId: string;
    chargeId: string | null;
  } {
    if (paymentIntent.status === 'requires_action' && paymentIntent.client_secret) {
      throw nonRetryable(FailureType.AuthenticationRequired, 'the charge needs 3-D Secure', {
        paymentIntentId: paymentIntent.id,
        clientSecret: paymentIntent.client_secret,
      });
    }
    if (paymentIntent.status !== 'succeeded') {
      throw nonRetryable(FailureType.CardDeclined, `the charge ended ${paymentIntent.status}`, {
        code: 'payment_failed',
        declineCode: null,
        message: `The payment could not be completed (${paymentIntent.status}).`,
        paymentIntentId: paymentIntent.id,
      });
    }
    const charge = paymentIntent.latest_charge;
    return {
      paymentIntentId: paymentIntent.id,
      chargeId: typeof charge === 'string' ? charge : (charge?.id ?? null),
    };
  }

  async function adoptRecordedPaymentMethod(
    ids: { purchaseId: string; organizationId: string; customerId: string },
    stripeCustomerId: string,
    recorded: string,
  ) {
    let attached: Stripe.PaymentMethod;
    try {
      attached = await stripeCall('attach the recorded card', () =>
        stripe.paymentMethods.attach(
          recorded,
          { customer: stripeCustomerId },
          { idempotencyKey: idempotencyKeys.attachRecorded(ids.purchaseId) },
        ),
      );
    } catch (error) {
      // Stripe refused this card (a decline, an unknown card): forget it, so the next purchase asks for
      // a card instead of failing on it again. An outage or a lost answer says nothing about the card:
      // it stays, and the attempt is retried under the same key.
      if (error instanceof ApplicationFailure && error.nonRetryable) {
        await recordDefaultCard(sql, ids, null, { forgetting: recorded });
      }
      throw error;
    }
    await stripeCall('set default payment method', () =>
      stripe.customers.update(
        stripeCustomerId,
        { invoice_settings: { default_payment_method: attached.id } },
        { idempotencyKey: idempotencyKeys.defaultRecorded(ids.purchaseId) },
      ),
    );
    return attached.id;
  }

  /**
   * The SetupIntent that asks a purchase's customer for a card, under the purchase's setup key: the
   * same SetupIntent however often it is asked (a retry, or either of the two activities that make it).
   */
  async function createSetupIntentFor(input: {
    purchaseId: string;
    organizationId: string;
    stripeCustomerId: string;
  }): Promise<SetupIntentRequest> {
    const setupIntent = await stripeCall('create SetupIntent', () =>
      stripe.setupIntents.create(
        {
          customer: input.stripeCustomerId,
          usage: 'off_session',
          allowed_payment_method_types: ['card'],
          metadata: { purchase_id: input.purchaseId, organization_id: input.organizationId },
        },
        { idempotencyKey: idempotencyKeys.setup(input.purchaseId) },
      ),
    );
    if (!setupIntent.client_secret) {
      throw nonRetryable(
        FailureType.PaymentRequestRejected,
        `SetupIntent ${setupIntent.id} has no client secret`,
      );
    }
    // The client secret goes to the portal only, never to the logs.
    log.info('SetupIntent created', { purchaseId: input.purchaseId, setupIntentId: setupIntent.id });
    return { setupIntentId: setupIntent.id, clientSecret: setupIntent.client_secret };
  }

  const activities = {
    /**
     * The customer's Stripe customer (created on their first purchase, under a per-customer key so two
     * concurrent first purchases share one) and the card on file: Stripe's
     * `invoice_settings.default_payment_method` is the source of truth, mirrored into our row.
     */
    async ensureStripeCustomer(input: {
      purchaseId: string;
      organizationId: string;
      customerId: string;
      /**
       * Sent by purchases past the workflow's `2026-11-27-one-marker` patch (never by an auto top-up,
       * which does not ask): with no card on file, also create the SetupIntent that asks for one, in
       * place of the separate `createSetupIntent` activity older purchases ran next.
       */
      askForCard?: boolean;
    }): Promise<PaymentParties> {
      const row = await getCustomerPaymentProfile(sql, input);
      if (!row) throw nonRetryable(FailureType.PurchaseNotFound, `customer ${input.customerId} not found`);

      let stripeCustomerId = row.stripeCustomerId;
      if (!stripeCustomerId) {
        const creation = stripeCustomerCreation({ ...input, email: row.email, name: row.name });
        const created = await stripeCall('create Stripe customer', () =>
          stripe.customers.create(creation.params, { idempotencyKey: creation.idempotencyKey }),
        );
        // First writer wins; a concurrent purchase got the same Stripe customer from the same key.
        stripeCustomerId = (await linkStripeCustomer(sql, input, created.id)) ?? created.id;
      }

      const customer = await stripeCall('retrieve Stripe customer', () =>
        stripe.customers.retrieve(stripeCustomerId),
      );
      let paymentMethodId = defaultPaymentMethodOf(customer);
      if (!paymentMethodId && row.defaultPaymentMethodId) {
        // A card recorded on our side only (POST /v1/customers with defaultPaymentMethodId): attach it
        // and make it Stripe's default, once per customer. A card Stripe declines surfaces here.
        paymentMethodId = await adoptRecordedPaymentMethod(
          input,
          stripeCustomerId,
          row.defaultPaymentMethodId,
        );
      }
      log.info('Stripe customer ready', {
        purchaseId: input.purchaseId,
        stripeCustomerId,
        cardOnFile: paymentMethodId !== null,
      });
      if (paymentMethodId === null && input.askForCard) {
        const setupIntent = await createSetupIntentFor({ ...input, stripeCustomerId });
        return { stripeCustomerId, paymentMethodId, setupIntent };
      }
      return { stripeCustomerId, paymentMethodId };
    },

    /** A SetupIntent to save a card for later off-session charges; its client secret goes to the portal. */
    async createSetupIntent(input: {
      purchaseId: string;
      organizationId: string;
      stripeCustomerId: string;
    }): Promise<SetupIntentRequest> {
      return createSetupIntentFor(input);
    },

    /**
     * Reads the SetupIntent back from Stripe (a "card added" message is only a hint). When it succeeded,
     * makes its card the customer's default, in Stripe and in our row, and returns it.
     */
    async adoptSetupIntentPaymentMethod(input: {
      purchaseId: string;
      organizationId: string;
      customerId: string;
      stripeCustomerId: string;
      setupIntentId: string;
    }): Promise<{ paymentMethodId: string } | null> {
      const setupIntent = await stripeCall('retrieve SetupIntent', () =>
        stripe.setupIntents.retrieve(input.setupIntentId),
      );
      if (setupIntent.status !== 'succeeded' || !setupIntent.payment_method) return null;
      const paymentMethodId =
        typeof setupIntent.payment_method === 'string'
          ? setupIntent.payment_method
          : setupIntent.payment_method.id;
      await stripeCall('set default payment method', () =>
        stripe.customers.update(
          input.stripeCustomerId,
          { invoice_settings: { default_payment_method: paymentMethodId } },
          { idempotencyKey: idempotencyKeys.defaultPaymentMethod(input.purchaseId) },
        ),
      );
      await recordDefaultCard(sql, input, paymentMethodId);
      log.info('card added', { purchaseId: input.purchaseId, setupIntentId: input.setupIntentId });
      return { paymentMethodId };
    },

    /**
     * Cancels the SetupIntent of an abandoned card step. Safe when there is nothing to undo: a SetupIntent
     * already canceled, or one that succeeded meanwhile (it cannot be canceled), is reported as it is.
     */
    async cancelSetupIntent(input: {
      purchaseId: string;
      setupIntentId: string;
    }): Promise<{ status: Stripe.SetupIntent.Status }> {
      const read = () =>
        stripeCall(
          'retrieve SetupIntent',
          () => stripe.setupIntents.retrieve(input.setupIntentId),
          compensating,
        );
      const current = await read();
      if (current.status === 'canceled' || current.status === 'succeeded') return { status: current.status };
      if (current.status === 'processing') throw stillProcessing(`SetupIntent ${current.id}`);
      try {
        const canceled = await stripe.setupIntents.cancel(
          input.setupIntentId,
          { cancellation_reason: 'abandoned' },
          { idempotencyKey: idempotencyKeys.setupCancel(input.purchaseId) },
        );
        return { status: canceled.status };
      } catch (error) {
        // It changed state under us (succeeded at the last moment): report what it is now.
        if (isUnexpectedState(error)) return { status: (await read()).status };
        throw toActivityFailure(error, 'cancel SetupIntent', compensating);
      }
    },

    /**
     * The off-session charge: one PaymentIntent per purchase, confirmed at once, under the purchase's
     * charge key. A decline or a 3-D Secure demand comes back as a typed non-retryable failure.
     */
    async chargeOffSession(
      input: ChargeRequest,
    ): Promise<{ paymentIntentId: string; chargeId: string | null }> {
      // Only the run that claimed the purchase charges: a reset or rerun (whose keys may have expired
      // at Stripe after 24 h) must never make a second charge. Recording `charging` asks the same (the
      // write is for the run that drives the purchase only), so it replaces the ownership read.
      if (input.recordCharging) await recordCharging(input.purchaseId, input.recordCharging.setupIntentId);
      else await ensureRunOwnsPurchase(input.purchaseId);
      const create = (keyNumber: number) =>
        stripe.paymentIntents.create(
          {
            amount: input.amountCents,
            currency: input.currency,
            customer: input.stripeCustomerId,
            payment_method: input.paymentMethodId,
            confirm: true,
            off_session: true,
            description: `Credit pack purchase ${input.purchaseId}`,
            metadata: { purchase_id: input.purchaseId, organization_id: input.organizationId },
          },
          { idempotencyKey: idempotencyKeys.charge(input.purchaseId, keyNumber) },
        );
      const paymentIntent = await stripeCall('charge off-session', async () => {
        // Stripe stores a 500 under its key and replays it for 24 h: retrying that key cannot succeed.
        // Look the PaymentIntent up (the failed request may have created it); only when Stripe shows
        // none is the next derived key used, never a random one. Each key is tried in order on every
        // attempt, so a retried activity walks the same keys and finds what an earlier attempt made.
        for (let keyNumber = 1; ; keyNumber += 1) {
          try {
            return await create(keyNumber);
          } catch (error) {
            if (!isStoredServerError(error) || keyNumber >= MAX_CHARGE_KEYS) throw error;
            log.warn('charge key answered a stored 500; looking the PaymentIntent up', {
              purchaseId: input.purchaseId,
              keyNumber,
            });
            const existing = await findPaymentIntentOfPurchase(input.stripeCustomerId, input.purchaseId);
            if (existing) return existing;
          }
        }
      });
      // Not settled yet (rare for cards): wait for Stripe's answer instead of guessing either way.
      // The create replays this same answer under the key, so read the PaymentIntent itself.
      const settled =
        paymentIntent.status === 'processing' ? await waitWhileProcessing(paymentIntent.id) : paymentIntent;
      log.info('charge answered', {
        purchaseId: input.purchaseId,
        paymentIntentId: settled.id,
        status: settled.status,
        amountCents: input.amountCents,
        currency: input.currency,
      });
      return chargeResult(settled);
    },

    /** Stripe's current word on a PaymentIntent (the truth behind a webhook hint). */
    async getPaymentIntentStatus(input: {
      paymentIntentId: string;
    }): Promise<{ status: PaymentIntentStatus; lastPaymentErrorCode: string | null }> {
      const paymentIntent = await stripeCall('retrieve PaymentIntent', () =>
        stripe.paymentIntents.retrieve(input.paymentIntentId),
      );
      return {
        status: paymentIntent.status,
        lastPaymentErrorCode: paymentIntent.last_payment_error?.code ?? null,
      };
    },
    /**
     * Cancels a PaymentIntent left waiting for authentication. Safe when there is nothing to undo; and
     * when the customer authenticated at the last moment the PaymentIntent has succeeded and cannot be
     * canceled: the returned status says so and the workflow credits (or refunds) instead.
     */
    async cancelPaymentIntent(input: {
      purchaseId: string;
      paymentIntentId: string;
    }): Promise<{ status: PaymentIntentStatus }> {
      const read = () =>
        stripeCall(
          'retrieve PaymentIntent',
          () => stripe.paymentIntents.retrieve(input.paymentIntentId),
          compensating,
        );
      const current = await read();
      if (current.status === 'canceled' || current.status === 'succeeded') return { status: current.status };
      // Processing may still end in a charge: never report it as canceled; retry until it settles.
      if (current.status === 'processing') throw stillProcessing(`PaymentIntent ${current.id}`);
      try {
        const canceled = await stripe.paymentIntents.cancel(
          input.paymentIntentId,
          { cancellation_reason: 'abandoned' },
          { idempotencyKey: idempotencyKeys.chargeCancel(input.purchaseId) },
        );
        return { status: canceled.status };
      } catch (error) {
        // It changed state under us (authenticated at the last moment): report what it is now.
        if (isUnexpectedState(error)) {
          const now = await read();
          if (now.status === 'processing') throw stillProcessing(`PaymentIntent ${now.id}`);
          return { status: now.status };
        }
        throw toActivityFailure(error, 'cancel PaymentIntent', compensating);
      }
    },

    /**
     * Refunds the purchase's charge in full (the compensation of a charge whose credits cannot stand).
     * Safe when there is nothing to undo: no successful charge means no refund, and a charge already
     * refunded returns the existing refund.
     */
    async refundPayment(input: {
      purchaseId: string;
      /** null when the charge's answer was never received: the PaymentIntent is found by its metadata */
      paymentIntentId: string | null;
      stripeCustomerId: string;
      amountCents: number;
    }): Promise<{ refundId: string | null }> {
      // Another run's purchase (a reset, a rerun): whatever was charged is that run's, not this one's to undo.
      if (!(await runOwnsPurchase(sql, input.purchaseId, currentRunId()))) {
        log.warn('purchase driven by another run: nothing of this run to refund', {
          purchaseId: input.purchaseId,
        });
        return { refundId: null };
      }
      const paymentIntent = input.paymentIntentId
        ? await stripeCall(
            'retrieve PaymentIntent',
            () => stripe.paymentIntents.retrieve(input.paymentIntentId as string),
            compensating,
          )
        : await findPaymentIntentOfPurchase(input.stripeCustomerId, input.purchaseId);
      if (paymentIntent?.status === 'processing') throw stillProcessing(`PaymentIntent ${paymentIntent.id}`);
      if (paymentIntent?.status !== 'succeeded') {
        log.info('nothing to refund', {
          purchaseId: input.purchaseId,
          paymentIntentId: paymentIntent?.id ?? null,
        });
        return { refundId: null };
      }
      // What already stands (this key's earlier attempt, or an operator's refund) counts.
      const existing = await stripeCall(
        'list refunds',
        () => stripe.refunds.list({ payment_intent: paymentIntent.id, limit: STRIPE_PAGE_SIZE }),
        compensating,
      );
      const standing = existing.data.filter((r) => r.status !== 'failed' && r.status !== 'canceled');
      const refundedCents = standing.reduce((sum, r) => sum + r.amount, 0);
      const remainingCents = Math.min(input.amountCents, paymentIntent.amount_received) - refundedCents;
      if (remainingCents <= 0) {
        log.info('already refunded', { purchaseId: input.purchaseId, paymentIntentId: paymentIntent.id });
        return { refundId: standing[0]?.id ?? null };
      }
      const refund = await stripeCall(
        'refund',
        () =>
          stripe.refunds.create(
            {
              payment_intent: paymentIntent.id,
              amount: remainingCents,
              metadata: { purchase_id: input.purchaseId },
            },
            // The amount is in the key: a different remainder is a different request, never a mismatch.
            { idempotencyKey: idempotencyKeys.refund(input.purchaseId, remainingCents) },
          ),
        compensating,
      );
      // The purchase's refunds record it at once (its webhook finds it known).
      await sql.begin((tx) =>
        syncStripeRefunds(tx, input.purchaseId, [
          {
            id: refund.id,
            amount: refund.amount,
            status: refund.status,
            metadata: refund.metadata ?? null,
            failureReason: refund.failure_reason ?? null,
          },
        ]),
      );
      log.info('refunded', {
        purchaseId: input.purchaseId,
        paymentIntentId: paymentIntent.id,
        refundId: refund.id,
        amountCents: remainingCents,
      });
      return { refundId: refund.id };
    },
  };

  /**
   * An undo that keeps failing (attempt COMPENSATION_STUCK_AFTER_ATTEMPTS and later) says so on the
   * purchase's row: failure code compensation_stuck with the step and Stripe's last answer, status
   * unchanged, while Temporal keeps retrying it (7 days). Best effort: the row write never hides the error.
   */
  function reportWhenStuck<I extends { purchaseId: string }, R>(
    step: string,
    undo: (input: I) => Promise<R>,
  ) {
    return async (input: I): Promise<R> => {
      try {
        return await undo(input);
      } catch (error) {
        const attempt = Context.current().info.attempt;
        if (attempt >= COMPENSATION_STUCK_AFTER_ATTEMPTS) {
          const why = error instanceof Error ? error.message : String(error);
          await markCompensationStuck(
            sql,
            input.purchaseId,
            currentRunId(),
            `Could not ${step} yet (attempt ${attempt}, retrying): ${why}`,
          ).catch((writeError: unknown) =>
            log.warn('could not record the stuck compensation', { writeError }),
          );
          log.warn('compensation stuck', { purchaseId: input.purchaseId, step, attempt });
        }
        throw error;
      }
    };
  }

  return {
    ...activities,
    cancelSetupIntent: reportWhenStuck('cancel the card request', activities.cancelSetupIntent),
    cancelPaymentIntent: reportWhenStuck('cancel the open payment', activities.cancelPaymentIntent),
    refundPayment: reportWhenStuck('refund the charge', activities.refundPayment),
  };
}
