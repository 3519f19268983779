import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type postgres from 'postgres';
import type Stripe from 'stripe';
import { Type } from 'typebox';
import {
  claimStripeEvent,
  findPurchaseForStripeObject,
  recordStripeEventOutcome,
  type StripeEventOutcome,
} from '../../db/stripe-events';
import { isTerminalPurchaseStatus } from '../../domain/purchase-states';
import {
  adoptCardReplacement,
  applyMoneyEvent,
  CARD_REPLACEMENT_PURPOSE,
  hintPurchase,
  moneyEventTypes,
  notifyAutoTopUpOfPurchase,
  prepareMoneyEvent,
} from '../../purchases';
import { envelope, type RouteDeps } from '../context';
import { sendError } from '../errors';
import * as S from '../schemas';

/** Stripe event bodies can be larger than the API's 64 KiB request limit. */
const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** How long the receiver waits for Temporal to take a signal before answering 503 (Stripe retries). */
const SIGNAL_DEADLINE_MS = 10_000;

const WebhookAck = Type.Object({
  received: Type.Literal(true),
  eventId: Type.String(),
  duplicate: Type.Boolean({ description: 'this event id was already recorded; not applied again' }),
  outcome: Type.String({
    description: 'signaled | ignored | unmatched | purchase_settled | workflow_closed (first delivery)',
  }),
});

interface StripeObject {
  id?: unknown;
  metadata?: unknown;
}

/**
 * `POST /v1/stripe/webhooks`: Stripe's events, verified on the raw body, recorded once, then fed to the
 * purchase they concern as a hint (the workflow re-reads Stripe before believing it):
 *
 *   setup_intent.succeeded          → paymentMethodAddedSignal; for a card replacement made in the
 *                                     portal (metadata.purpose card_replacement): its card, re-read
 *                                     from Stripe, becomes the customer's default (src/purchases/card-on-file.ts)
 *   payment_intent.succeeded        → paymentOutcomeSignal (succeeded)   } only while the purchase is
 *   payment_intent.payment_failed   → paymentOutcomeSignal (failed)      } requires_action (3-D Secure)
 *   charge.refunded, refund.*, charge.refund.updated → the PaymentIntent's refunds re-read from Stripe
 *                                     and taken in (src/purchases/money-events.ts), at any status
 *   charge.dispute.created / closed → credits held back / given back (won) or kept (lost)
 *   anything else                   → recorded, acknowledged
 *
 * Answers: 400 (nothing recorded) for a missing, forged, tampered or stale signature; 200 for every
 * well-signed event, including duplicates, unknown types and events that match no running purchase;
 * 503 only when Temporal cannot take the signal, or Stripe cannot be re-read, with nothing recorded, so
 * that Stripe's retry applies it.
 */
export const webhookRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, sql, stripe, temporal },
) => {
  // Raw bytes, whatever the content type: the signature is over the body exactly as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
    (_request, body, done) => done(null, body),
  );

  app.post(
    '/v1/stripe/webhooks',
    {
      bodyLimit: WEBHOOK_BODY_LIMIT,
      schema: {
        tags: ['stripe'],
        summary: 'Stripe webhook receiver (Stripe-Signature verified on the raw body)',
        description:
          'Verifies the Stripe-Signature header with STRIPE_WEBHOOK_SECRET (5 min tolerance), records the event id once, and signals the purchase it concerns. 400: bad signature (nothing recorded). 200: every well-signed event, duplicates and unmatched ones included. 503: Temporal unreachable (nothing recorded; Stripe retries).',
        headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String()) }),
        response: S.responses(200, WebhookAck),
      },
    },
    async (request, reply) => {
      const raw = request.body as unknown;
      const signature = request.headers['stripe-signature'];
      if (!Buffer.isBuffer(raw) || raw.length === 0) {
        return sendError(reply, 'validation_failed', 'Empty webhook body.', 400);
      }
      if (typeof signature !== 'string' || signature === '') {
        return sendError(reply, 'validation_failed', 'Missing Stripe-Signature header.', 400);
      }
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(raw, signature, config.STRIPE_WEBHOOK_SECRET);
      } catch (error) {
        request.log.warn({ err: error }, 'stripe webhook rejected: signature verification failed');
        return sendError(
          reply,
          'validation_failed',
          'Invalid Stripe-Signature: the signature does not match the body, or its timestamp is outside the tolerance.',
          400,
        );
      }
      if (
        typeof event?.id !== 'string' ||
        !/^evt_[A-Za-z0-9_]{1,255}$/.test(event.id) ||
        typeof event.type !== 'string'
      ) {
        return sendError(reply, 'validation_failed', 'The webhook body is not a Stripe event.', 400);
      }

      const object = (event.data?.object ?? {}) as StripeObject;
      const objectId = typeof object.id === 'string' ? object.id.slice(0, 255) : null;
      const metadata =
        object.metadata && typeof object.metadata === 'object'
          ? (object.metadata as Record<string, string>)
          : null;

      try {
        // Refunds and disputes: what Stripe holds now is read before the transaction (a Stripe outage
        // answers 503, nothing recorded, and Stripe delivers again).
        const moneyPlan = moneyEventTypes.has(event.type) ? await prepareMoneyEvent(stripe, event) : null;
        // A card replacement made in the portal (not a purchase's card step): its card becomes the
        // customer's default once Stripe, re-read, shows it succeeded. Done before the transaction too,
        // and idempotent, so a duplicate or a retry after a 503 does it again harmlessly.
        const cardReplacement = cardReplacementOf(event.type, metadata, objectId);
        const replaced = cardReplacement
          ? await adoptCardReplacement(sql, stripe, cardReplacement.ids, cardReplacement.setupIntentId, {
              temporal,
              config,
              log: request.log,
            })
          : null;
        const result = await sql.begin(async (tx) => {
          const { first } = await claimStripeEvent(tx, {
            id: event.id,
            type: event.type.slice(0, 200),
            created: typeof event.created === 'number' ? event.created : Math.floor(Date.now() / 1000),
            livemode: event.livemode === true,
            objectId,
            payload: JSON.parse(raw.toString('utf8')),
          });
          if (!first) return { duplicate: true, outcome: 'duplicate' as string };
          const { outcome, purchaseId } = moneyEventTypes.has(event.type)
            ? moneyPlan
              ? await applyMoneyEvent(tx, moneyPlan)
              : { outcome: 'ignored' as const, purchaseId: null }
            : replaced
              ? {
                  outcome: replaced === 'replaced' ? ('signaled' as const) : ('ignored' as const),
                  purchaseId: null,
                }
              : await act(tx);
          await recordStripeEventOutcome(tx, event.id, outcome, purchaseId);
          return { duplicate: false, outcome: outcome as string, purchaseId };
        });
        // A refund or dispute that took credits back may have recorded a top-up or paused the auto
        // top-up: the customer's workflow starts it without waiting for the sweep.
        if (!result.duplicate && moneyEventTypes.has(event.type)) {
          await notifyAutoTopUpOfPurchase(
            { sql, temporal, config, log: request.log },
            result.purchaseId ?? null,
            `stripe ${event.type}`,
          );
        }
        request.log.info(
          {
            eventId: event.id,
            type: event.type,
            ...result,
            ...(replaced ? { cardReplacement: replaced } : {}),
          },
          result.duplicate ? 'stripe webhook: duplicate acknowledged' : `stripe webhook: ${result.outcome}`,
        );
        if (!result.duplicate && result.outcome === 'unmatched') {
          request.log.warn(
            { eventId: event.id, type: event.type, objectId },
            'stripe webhook matched no purchase',
          );
        }
        return envelope({
          received: true as const,
          eventId: event.id,
          duplicate: result.duplicate,
          outcome: result.outcome,
        });
      } catch (error) {
        request.log.error(
          { err: error, eventId: event.id },
          'stripe webhook could not be applied; Stripe will retry',
        );
        return sendError(
          reply,
          'service_unavailable',
          'The event could not be applied right now; it was not recorded, so a retry will apply it.',
        );
      }

      /** What the event asks of its purchase; throws (→ 503, rolled back) only when Temporal fails. */
      async function act(
        tx: postgres.TransactionSql,
      ): Promise<{ outcome: StripeEventOutcome; purchaseId: string | null }> {
        const signal = signalFor(event, objectId);
        if (!signal) return { outcome: 'ignored', purchaseId: null };
        const purchase = await findPurchaseForStripeObject(tx, { id: objectId, metadata, kind: signal.kind });
        if (!purchase) return { outcome: 'unmatched', purchaseId: null };
        // A payment outcome matters only to a purchase waiting for 3-D Secure; the off-session charge's own
        // success or decline reaches the workflow as the charge activity's result, not as a hint.
        if (
          signal.kind === 'payment_intent' &&
          purchase.status !== 'requires_action' &&
          !isTerminalPurchaseStatus(purchase.status)
        ) {
          return { outcome: 'ignored', purchaseId: purchase.id };
        }
        if (isTerminalPurchaseStatus(purchase.status))
          return { outcome: 'purchase_settled', purchaseId: purchase.id };
        if (!temporal) throw new Error('no Temporal client configured');
        const outcome = await hintPurchase(
          temporal,
          purchase.id,
          signal.kind === 'setup_intent'
            ? { paymentMethodAdded: { setupIntentId: signal.objectId } }
            : { paymentOutcome: { paymentIntentId: signal.objectId, outcome: signal.outcome } },
          { deadlineMs: SIGNAL_DEADLINE_MS },
        );
        return { outcome, purchaseId: purchase.id };
      }
    },
  );
};

/** The customer a card replacement's `setup_intent.succeeded` names (metadata set by the portal), if it is one. */
function cardReplacementOf(
  type: string,
  metadata: Record<string, string> | null,
  objectId: string | null,
): { ids: { organizationId: string; customerId: string }; setupIntentId: string } | null {
  if (type !== 'setup_intent.succeeded' || !objectId || metadata?.purpose !== CARD_REPLACEMENT_PURPOSE)
    return null;
  const { organization_id: organizationId, customer_id: customerId } = metadata;
  if (typeof organizationId !== 'string' || typeof customerId !== 'string') return null;
  return { ids: { organizationId, customerId }, setupIntentId: objectId };
}

type Signal =
  | { kind: 'setup_intent'; objectId: string }
  | { kind: 'payment_intent'; objectId: string; outcome: 'succeeded' | 'failed' };

function signalFor(event: Stripe.Event, objectId: string | null): Signal | null {
  if (!objectId) return null;
  switch (event.type) {
    case 'setup_intent.succeeded':
      return { kind: 'setup_intent', objectId };
    case 'payment_intent.succeeded':
      return { kind: 'payment_intent', objectId, outcome: 'succeeded' };
    case 'payment_intent.payment_failed': {
      // An off-session attempt that needs 3-D Secure also fails (authentication_required): that is what
      // puts the purchase in requires_action, not the outcome of the customer's authentication, which
      // fails with payment_intent_authentication_failure (or a decline) instead. Passing it on would end
      // every 3-D Secure purchase before the customer could authenticate.
      const lastError = (event.data.object as { last_payment_error?: { code?: unknown } | null })
        .last_payment_error;
      if (lastError?.code === 'authentication_required') return null;
      return { kind: 'payment_intent', objectId, outcome: 'failed' };
    }
    default:
      return null;
  }
}
