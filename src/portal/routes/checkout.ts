import { type FastifyPluginAsyncTypebox, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getCustomerPurchase, toPurchase } from '../../db/purchases';
import { cancelPurchase, checkoutForCustomer, waitForPurchase } from '../../purchases';
import { envelope, type RouteDeps, requiredIdempotencyKey, sessionOf } from '../context';
import * as S from '../schemas';

const portalSecurity = [{ portalSession: [] }];

/** How long checkout waits for the workflow service to start the purchase (ms; a healthy start takes a few). */
const START_DEADLINE_MS = 5_000;

/** The largest MAX_PURCHASE_QUANTITY a server may be configured with (src/config.ts). */
const QUANTITY_CEILING = 1_000;

/**
 * The checkout body, documented with this server's quantity limit (`maxQuantity`, MAX_PURCHASE_QUANTITY).
 * Requests are validated against the same schema with `QUANTITY_CEILING` instead: a quantity above the
 * configured limit then reaches the handler, which judges a known Idempotency-Key first (its purchase, or
 * 409) and otherwise answers 422 `quantity_exceeds_limit`.
 */
export function checkoutBody(maxQuantity: number) {
  return Type.Object(
    {
      creditPackId: S.Id('cpk'),
      quantity: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: maxQuantity,
          default: 1,
          description: `how many packs, 1 to ${maxQuantity} on this server (MAX_PURCHASE_QUANTITY); charged once, credited once. Above the limit: 422 quantity_exceeds_limit.`,
        }),
      ),
    },
    { additionalProperties: false },
  );
}

export const CheckoutHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'required: the same key and body return the same purchase; the same key with another body is refused (409)',
    }),
  ),
});

/** Checkout and cancel on the portal session (registered inside the portal plugin: its auth hook applies). */
export const checkoutRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, sql, temporal, checkoutWaitMs, purchaseChanges },
) => {
  app.post(
    '/v1/portal/purchases',
    {
      schema: {
        tags: ['portal'],
        summary: 'Buy a credit pack (checkout); answers 202 with the purchase and its next action',
        description: `Requires an Idempotency-Key header (1–255 characters): the same key and body return the same purchase (one workflow, one charge); the same key with another body answers 409 idempotency_key_reused. Eligibility failures known now (no such pack, archived, plan not credits-based, pack not visible, no subscription, subscription past due/canceled/ended) answer at once with their code and start nothing. A missing card is not a refusal: the purchase asks for one (nextAction add_payment_method). The answer waits up to ${checkoutWaitMs} ms for the purchase to need something or settle; poll GET /v1/portal/purchases/{id} after that. A purchase recorded whose workflow cannot be started right now (the workflow service is unreachable) still answers 202, pending: it is started shortly (by the worker's sweep, or a retry with the same key); 503 service_unavailable only when nothing was recorded (retry with the same key).`,
        security: portalSecurity,
        headers: CheckoutHeaders,
        body: checkoutBody(config.MAX_PURCHASE_QUANTITY),
        response: S.responses(202, S.Purchase),
      },
      validatorCompiler: (route) =>
        TypeBoxValidatorCompiler(
          route.httpPart === 'body' ? { ...route, schema: checkoutBody(QUANTITY_CEILING) } : route,
        ),
    },
    async (request, reply) => {
      const { organizationId, customerId } = sessionOf(request);
      const key = requiredIdempotencyKey(request);
      const order = {
        organizationId,
        customerId,
        creditPackId: request.body.creditPackId,
        quantity: request.body.quantity ?? 1,
        idempotencyKey: key,
      };
      const result = await checkoutForCustomer({ sql, temporal, config }, order, {
        startDeadlineMs: START_DEADLINE_MS,
        log: request.log,
      });
      // Recorded but not started: nothing runs it yet, so nothing is worth waiting for.
      const row = result.workflowStarted
        ? await waitForPurchase(
            { sql, purchaseChanges },
            { organizationId, customerId, purchaseId: result.purchase.id },
            checkoutWaitMs,
          )
        : result.purchase;
      return reply
        .status(202)
        .header('location', `/v1/portal/purchases/${row.id}`)
        .send(envelope(toPurchase(row)));
    },
  );

  app.post(
    '/v1/portal/purchases/:id/cancel',
    {
      schema: {
        tags: ['portal'],
        summary: 'Cancel a purchase that is still waiting (for a card or for 3-D Secure)',
        description:
          'Answers the settled purchase: canceled (nothing charged), or refunded if a charge went through meanwhile. A purchase recorded but not started yet (pending, no workflow) is canceled at once. 409 purchase_not_cancelable once the purchase is being charged or is settled.',
        security: portalSecurity,
        params: S.IdParams('pur'),
        response: S.responses(200, S.Purchase),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      const row = await getCustomerPurchase(sql, {
        organizationId,
        customerId,
        purchaseId: request.params.id,
      });
      request.log.info({ purchaseId: row.id }, 'cancel requested by the customer');
      return envelope(toPurchase(await cancelPurchase({ sql, temporal, purchaseChanges }, row, 'customer')));
    },
  );
};
