import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';
import { findPurchaseByStripeObject, type PurchaseRow } from '../../db/purchases';
import { AppError } from '../../domain/errors';
import { adoptCardReplacement, findCardReplacement, hintPurchase, type PurchaseHint } from '../../purchases';
import { classifyStripeError } from '../../stripe/errors';
import type { PaymentOutcome } from '../../workflows';
import { envelope, type RouteDeps, sessionOf } from '../context';
import * as S from '../schemas';

/**
 * TEST MODE ONLY (the Stripe emulator; never registered with a real Stripe key, so they 404 there):
 * what Stripe.js does in the customer's browser, done by the portal server against the emulator, so
 * the portal page's "add a card" and "authenticate" steps work offline. Each route acts only on a
 * Stripe object of one of the session customer's own purchases, or (the SetupIntent routes) on one of
 * their card replacements (POST /v1/portal/payment-method), whose card is then made the default.
 */

export const testCards = [
  { number: '4242424242424242', label: 'Visa 4242: succeeds' },
  { number: '4000000000000341', label: 'Visa 0341: saved, but every charge is declined' },
  { number: '4000002760003184', label: 'Visa 3184: needs 3-D Secure on every payment' },
  { number: '4000000000009995', label: 'Visa 9995: declined, insufficient funds' },
] as const;

const portalSecurity = [{ portalSession: [] }];
/** How long a hint to the workflow may take before the answer goes without it (the webhook still comes). */
const HINT_DEADLINE_MS = 3_000;
const Outcome = Type.Union([Type.Literal('succeed'), Type.Literal('fail')], {
  description: 'complete 3-D Secure, or fail it',
});
const IntentParams = (prefix: 'seti' | 'pi') =>
  Type.Object(
    { id: Type.String({ pattern: `^${prefix}_[A-Za-z0-9_]{1,200}$` }) },
    { additionalProperties: false },
  );
const IntentAnswer = Type.Object({
  id: Type.String(),
  status: Type.String({ description: "the Stripe object's status after the step" }),
  requiresAction: Type.Boolean({ description: 'true: 3-D Secure must be completed next' }),
});

export const testModeRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, sql, stripe, temporal },
) => {
  if (config.stripeIsReal) return; // defence in depth: app.ts does not register this plugin then either

  /**
   * Tells the purchase's workflow what the step just did, as the portal does after Stripe.js: so the
   * purchase goes on without waiting for Stripe's webhook. Best effort: the webhook still comes (and
   * the workflow re-reads the intent from Stripe either way), so a failure is logged, not answered.
   */
  async function hint(log: FastifyBaseLogger, purchaseId: string, what: PurchaseHint): Promise<void> {
    if (!temporal) {
      log.warn({ purchaseId }, 'test mode: no workflow client, the purchase waits for the webhook');
      return;
    }
    try {
      const outcome = await hintPurchase(temporal, purchaseId, what, { deadlineMs: HINT_DEADLINE_MS });
      if (outcome === 'signaled') log.info({ purchaseId, ...what }, 'test mode: workflow hinted');
      else
        log.warn(
          { purchaseId, ...what },
          'test mode: no workflow to hint; the purchase waits for the webhook',
        );
    } catch (error) {
      log.warn(
        { err: error, purchaseId, ...what },
        'test mode: could not hint the workflow; the purchase waits for the webhook',
      );
    }
  }

  async function emulator<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${config.stripeEmulatorUrl}/_emulator${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(config.STRIPE_TIMEOUT_MS),
    });
    const answer = (await response.json().catch(() => ({}))) as T & { error?: { message?: string } };
    if (!response.ok) {
      throw new AppError(
        'payment_failed',
        answer.error?.message ?? `The test card service answered ${response.status}.`,
      );
    }
    return answer;
  }

  /**
   * The session customer's purchase that uses this SetupIntent (at the card step) or PaymentIntent (at
   * the 3-D Secure step); 404 when none of theirs does, 409 purchase_not_waiting at another step.
   */
  async function waitingPurchase(
    request: Parameters<typeof sessionOf>[0],
    kind: 'setup_intent' | 'payment_intent',
    id: string,
  ): Promise<PurchaseRow> {
    const row = await findPurchaseByStripeObject(sql, { kind, id }, sessionOf(request));
    if (!row) throw new AppError('purchase_not_found', `No purchase of yours uses ${id}.`);
    const [step, waitingFor] =
      kind === 'setup_intent'
        ? (['awaiting_payment_method', 'a card'] as const)
        : (['requires_action', '3-D Secure'] as const);
    if (row.status !== step) {
      throw new AppError(
        'purchase_not_waiting',
        `This purchase is ${row.status}, not waiting for ${waitingFor}.`,
      );
    }
    return row;
  }

  /**
   * What a SetupIntent id names for the session customer: the card step of one of their purchases (as
   * waitingPurchase checks it), or one of their card replacements (POST /v1/portal/payment-method);
   * 404 purchase_not_found when it is neither.
   */
  async function setupIntentOwner(
    request: Parameters<typeof sessionOf>[0],
    id: string,
  ): Promise<{ purchase: PurchaseRow } | { cardReplacement: true }> {
    const session = sessionOf(request);
    const row = await findPurchaseByStripeObject(sql, { kind: 'setup_intent', id }, session);
    if (row) return { purchase: await waitingPurchase(request, 'setup_intent', id) };
    if (await findCardReplacement(sql, stripe, session, id)) return { cardReplacement: true };
    throw new AppError('purchase_not_found', `No purchase of yours uses ${id}.`);
  }

  /**
   * After a SetupIntent succeeded: a purchase is hinted; a card replacement's card is made the default
   * at once (re-read from Stripe), as the page's message after Stripe.js does.
   */
  async function setupSucceeded(
    request: Parameters<typeof sessionOf>[0],
    owner: { purchase: PurchaseRow } | { cardReplacement: true },
    setupIntentId: string,
  ): Promise<void> {
    if ('purchase' in owner) {
      await hint(request.log, owner.purchase.id, { paymentMethodAdded: { setupIntentId } });
      return;
    }
    const outcome = await adoptCardReplacement(sql, stripe, sessionOf(request), setupIntentId, {
      temporal,
      config,
      log: request.log,
    });
    request.log.info({ setupIntentId, outcome }, 'test mode: card replacement confirmed');
  }

  /** Stripe's card errors are the customer's outcome (402 with Stripe's message); invalid requests are 409. */
  function stripeFailure(error: unknown): AppError | null {
    const classified = classifyStripeError(error);
    switch (classified?.kind) {
      case 'card_declined':
      case 'authentication_required':
        return new AppError(classified.kind, classified.error.message);
      case 'not_found':
      case 'invalid_request':
        return new AppError('payment_failed', classified.error.message);
      default:
        return null;
    }
  }

  app.get(
    '/v1/portal/test-mode/cards',
    {
      schema: {
        tags: ['portal test mode'],
        summary: 'TEST MODE: the test cards the portal page offers',
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, Type.Array(Type.Object({ number: Type.String(), label: Type.String() }))),
      },
    },
    async () => envelope(testCards.map((c) => ({ ...c }))),
  );

  app.post(
    '/v1/portal/test-mode/setup-intents/:id/confirm',
    {
      schema: {
        tags: ['portal test mode'],
        summary:
          "TEST MODE: add a test card to the purchase's SetupIntent, or to a card replacement's (what Stripe.js confirmCardSetup does)",
        security: portalSecurity,
        params: IntentParams('seti'),
        body: Type.Object(
          { card: Type.Union(testCards.map((c) => Type.Literal(c.number))) },
          { additionalProperties: false },
        ),
        response: S.responses(200, IntentAnswer),
      },
    },
    async (request) => {
      const owner = await setupIntentOwner(request, request.params.id);
      const paymentMethod = await emulator<{ id: string }>('/payment_methods', { number: request.body.card });
      try {
        const setupIntent = await stripe.setupIntents.confirm(request.params.id, {
          payment_method: paymentMethod.id,
        });
        if (setupIntent.status === 'succeeded') await setupSucceeded(request, owner, setupIntent.id);
        return envelope({
          id: setupIntent.id,
          status: setupIntent.status,
          requiresAction: setupIntent.status === 'requires_action',
        });
      } catch (error) {
        const failure = stripeFailure(error);
        if (failure) throw failure;
        throw error;
      }
    },
  );

  app.post(
    '/v1/portal/test-mode/setup-intents/:id/authenticate',
    {
      schema: {
        tags: ['portal test mode'],
        summary:
          "TEST MODE: complete (or fail) 3-D Secure on the purchase's SetupIntent, or a card replacement's",
        security: portalSecurity,
        params: IntentParams('seti'),
        body: Type.Object({ outcome: Outcome }, { additionalProperties: false }),
        response: S.responses(200, IntentAnswer),
      },
    },
    async (request) => {
      const owner = await setupIntentOwner(request, request.params.id);
      const current = await stripe.setupIntents.retrieve(request.params.id);
      if (current.status !== 'requires_action') {
        throw new AppError(
          'purchase_not_waiting',
          `The card step is ${current.status}, not awaiting 3-D Secure.`,
        );
      }
      const after = await emulator<{ id: string; status: string }>(
        `/setup_intents/${request.params.id}/authenticate`,
        { outcome: request.body.outcome },
      );
      if (after.status === 'succeeded') await setupSucceeded(request, owner, after.id);
      return envelope({
        id: after.id,
        status: after.status,
        requiresAction: after.status === 'requires_action',
      });
    },
  );

  app.post(
    '/v1/portal/test-mode/payment-intents/:id/authenticate',
    {
      schema: {
        tags: ['portal test mode'],
        summary:
          "TEST MODE: confirm the purchase's PaymentIntent on-session and complete (or fail) 3-D Secure (what Stripe.js confirmCardPayment does)",
        security: portalSecurity,
        params: IntentParams('pi'),
        body: Type.Object({ outcome: Outcome }, { additionalProperties: false }),
        response: S.responses(200, IntentAnswer),
      },
    },
    async (request) => {
      const row = await waitingPurchase(request, 'payment_intent', request.params.id);
      try {
        let paymentIntent = await stripe.paymentIntents.retrieve(request.params.id);
        if (
          paymentIntent.status === 'requires_payment_method' ||
          paymentIntent.status === 'requires_confirmation'
        ) {
          // The off-session attempt failed with authentication_required: confirm on-session with its card.
          const lastCard = paymentIntent.last_payment_error?.payment_method;
          const card =
            (typeof lastCard === 'string' ? lastCard : lastCard?.id) ??
            (typeof paymentIntent.payment_method === 'string'
              ? paymentIntent.payment_method
              : paymentIntent.payment_method?.id);
          if (!card) throw new AppError('payment_failed', 'This payment has no card to authenticate.');
          paymentIntent = await stripe.paymentIntents.confirm(request.params.id, { payment_method: card });
        }
        if (paymentIntent.status !== 'requires_action') {
          if (paymentIntent.status === 'succeeded') {
            await hint(request.log, row.id, {
              paymentOutcome: { paymentIntentId: paymentIntent.id, outcome: 'succeeded' },
            });
          }
          return envelope({ id: paymentIntent.id, status: paymentIntent.status, requiresAction: false });
        }
        const after = await emulator<{ id: string; status: string }>(
          `/payment_intents/${request.params.id}/authenticate`,
          { outcome: request.body.outcome },
        );
        const outcome = paymentOutcomeOf(after.status);
        if (outcome) {
          await hint(request.log, row.id, { paymentOutcome: { paymentIntentId: after.id, outcome } });
        }
        return envelope({
          id: after.id,
          status: after.status,
          requiresAction: after.status === 'requires_action',
        });
      } catch (error) {
        const failure = stripeFailure(error);
        if (failure) throw failure;
        throw error;
      }
    },
  );
};

/**
 * The hint a PaymentIntent's status after 3-D Secure gives (what its webhook would say): succeeded, or
 * failed once it needs another card; none while it is still processing or awaiting the customer.
 */
function paymentOutcomeOf(status: string): PaymentOutcome['outcome'] | null {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'requires_payment_method') return 'failed';
  return null;
}
