import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../domain/errors';
import { adoptCardReplacement, readCardOnFile, startCardReplacement } from '../../purchases';
import { envelope, type RouteDeps, sessionOf } from '../context';
import * as S from '../schemas';

const portalSecurity = [{ portalSession: [] }];

export const CardOnFile = Type.Object({
  brand: Type.String({ description: "the card's brand, as Stripe names it (visa, mastercard, …)" }),
  last4: Type.String(),
  expMonth: Type.Integer(),
  expYear: Type.Integer(),
});
const MaybeCard = Type.Union([CardOnFile, Type.Null()], {
  description: 'the card a purchase charges now, or null when there is none',
});

/**
 * The card on file (portal session): read it, and replace it with a SetupIntent the page confirms with
 * Stripe.js (or, in test mode, the test-mode confirm route). Registered by the portal plugin, behind its
 * session hook.
 */
export const paymentMethodRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { sql, stripe, temporal, config },
) => {
  app.get(
    '/v1/portal/payment-method',
    {
      schema: {
        tags: ['portal'],
        summary: 'The card on file: what a purchase charges (null when there is none)',
        description:
          "Stripe's default card of the customer (invoice_settings.default_payment_method), else a card recorded for the customer that the next purchase attaches. 503 service_unavailable while Stripe cannot be read.",
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, MaybeCard),
      },
    },
    async (request) => envelope(await readCardOnFile(sql, stripe, sessionOf(request))),
  );

  app.post(
    '/v1/portal/payment-method',
    {
      schema: {
        tags: ['portal'],
        summary: 'Replace the card on file: a SetupIntent to confirm with the new card',
        description:
          "Answers the client secret of a SetupIntent for the customer (their Stripe customer is created now if they have none). Confirm it with Stripe.js (test mode: POST /v1/portal/test-mode/setup-intents/{id}/confirm), then tell the portal with POST /v1/portal/payment-method/refresh; Stripe's setup_intent.succeeded webhook does the same. Once it succeeded, its card is the customer's default for every later purchase. Nothing changes until then.",
        security: portalSecurity,
        querystring: S.NoQuery,
        response: S.responses(
          201,
          Type.Object({
            clientSecret: Type.String({ description: "the SetupIntent's client secret (seti_…_secret_…)" }),
          }),
        ),
      },
    },
    async (request, reply) => {
      // No fields: no body, or an empty JSON object; anything else is refused, not ignored.
      const body = request.body as unknown;
      if (
        body !== undefined &&
        body !== null &&
        !(typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)
      ) {
        throw new AppError(
          'validation_failed',
          'Invalid body: this request takes no fields (send none, or {}).',
        );
      }
      const session = sessionOf(request);
      const { setupIntentId, clientSecret } = await startCardReplacement(sql, stripe, session);
      request.log.info({ setupIntentId }, 'card replacement started');
      return reply.status(201).send(envelope({ clientSecret }));
    },
  );

  app.post(
    '/v1/portal/payment-method/refresh',
    {
      schema: {
        tags: ['portal'],
        summary:
          'Tell the portal a card replacement succeeded (re-read from Stripe); answers the card on file',
        description:
          "The page's message after Stripe.js confirmed the SetupIntent: it is re-read from Stripe, never taken on the browser's word. Succeeded: its card becomes the default (a newer replacement that succeeded already stays the default), an auto top-up paused for card_declined or no_payment_method resumes (topping up at once when the total is below its threshold), and the card on file is answered. 404 setup_intent_not_found: not a card replacement of this customer. 409 setup_intent_not_succeeded: not succeeded (yet); nothing changed.",
        security: portalSecurity,
        querystring: S.NoQuery,
        body: Type.Object(
          { setupIntentId: Type.String({ pattern: '^seti_[A-Za-z0-9_]{1,200}$', maxLength: 205 }) },
          { additionalProperties: false },
        ),
        response: S.responses(200, MaybeCard),
      },
    },
    async (request) => {
      const session = sessionOf(request);
      const { setupIntentId } = request.body;
      const outcome = await adoptCardReplacement(sql, stripe, session, setupIntentId, {
        temporal,
        config,
        log: request.log,
      });
      request.log.info({ setupIntentId, outcome }, 'card replacement refreshed');
      if (outcome === 'not_found') {
        throw new AppError('setup_intent_not_found', `No card replacement of yours is ${setupIntentId}.`);
      }
      if (outcome === 'not_succeeded') {
        throw new AppError(
          'setup_intent_not_succeeded',
          `The card replacement ${setupIntentId} has not succeeded; the card on file is unchanged.`,
        );
      }
      return envelope(await readCardOnFile(sql, stripe, session));
    },
  );
};
