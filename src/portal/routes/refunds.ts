import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getCustomerPurchase } from '../../db/purchases';
import { listRefunds, toRefund } from '../../db/refunds';
import { refundPurchase, refundRequestHash } from '../../purchases';
import { envelope, orgOf, type RouteDeps, requiredIdempotencyKey } from '../context';
import * as S from '../schemas';

const adminSecurity = [{ organizationApiKey: [] }];

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'required: the same key, path and body answer the first answer again (kept at least 24 h); the same key with another path or body is refused (409)',
    }),
  ),
});

/** Refunds of a purchase (admin key; registered inside the admin plugin, whose auth hook applies). */
export const refundRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { config, sql, temporal }) => {
  app.post(
    '/v1/purchases/:id/refunds',
    {
      schema: {
        tags: ['purchases'],
        summary: 'Refund a completed purchase, in full or in part; answers 202 with the refund (pending)',
        description:
          'Requires an Idempotency-Key header (1–255 characters). amount defaults to what is left (price − refundedAmount). The credits the refund is worth are taken back at once (creditsReversed = floor(credits × refundedAmount / price), all of them on a full refund; spent credits become a negative purchased balance) and given back if the refund fails. The refund is carried to Stripe by its own workflow; its status goes pending → succeeded | failed. 409 not_refundable: the purchase is not completed, is under an open or lost dispute, or less is left than asked.',
        security: adminSecurity,
        params: S.IdParams('pur'),
        headers: IdempotencyHeaders,
        body: S.CreateRefundBody,
        response: S.responses(202, S.Refund),
      },
    },
    async (request, reply) => {
      const key = requiredIdempotencyKey(request);
      const amount = request.body?.amount ?? null;
      const reason = request.body?.reason ?? null;
      const { statusCode, refund } = await refundPurchase(
        { sql, temporal, config },
        {
          organizationId: orgOf(request),
          purchaseId: request.params.id,
          amountCents: amount,
          reason,
          idempotencyKey: key,
          requestPath: `/v1/purchases/${request.params.id}/refunds`,
          requestHash: refundRequestHash({ amount, reason }),
        },
        { log: request.log },
      );
      return reply.status(statusCode).send(envelope(refund));
    },
  );

  app.get(
    '/v1/purchases/:id/refunds',
    {
      schema: {
        tags: ['purchases'],
        summary:
          "A purchase's refunds, oldest first (refunds made in Stripe directly and the compensation's included)",
        security: adminSecurity,
        params: S.IdParams('pur'),
        querystring: S.NoQuery,
        response: S.responses(200, Type.Array(S.Refund)),
      },
    },
    async (request) => {
      const organizationId = orgOf(request);
      const purchase = await getCustomerPurchase(sql, { organizationId, purchaseId: request.params.id });
      return envelope((await listRefunds(sql, { organizationId, purchaseId: purchase.id })).map(toRefund));
    },
  );
};
