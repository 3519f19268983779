import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { loadReceipt } from '../../purchases/receipts';
import { envelope, orgOf, type RouteDeps, sessionOf } from '../context';
import { receiptHtml, wantsHtml } from '../receipt-html';
import * as S from '../schemas';

const Receipt = Type.Object({
  number: Type.Integer({ minimum: 1, description: 'per organization, from 1, increasing and gapless' }),
  purchaseId: S.Id('pur'),
  issuedAt: Type.String({ format: 'date-time' }),
  lines: Type.Array(
    Type.Object({
      description: Type.String({ description: 'the pack name at checkout' }),
      quantity: Type.Integer(),
      unitAmount: Type.Integer({ description: 'cents' }),
      amount: Type.Integer({ description: 'cents: quantity × unitAmount' }),
    }),
  ),
  total: Type.Integer({ description: 'cents: the price' }),
  currency: Type.Literal('usd'),
  paymentMethod: Type.Union([Type.Object({ brand: Type.String(), last4: Type.String() }), Type.Null()]),
  refunds: Type.Array(
    Type.Object({
      id: S.Id('ref'),
      amount: Type.Integer({ description: 'cents' }),
      status: S.RefundStatus,
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
});

const description =
  'JSON, or printable HTML when the first type in Accept is text/html (errors stay JSON). Only a purchase that completed has a receipt (later refunds listed); otherwise 404 receipt_not_found.';

async function answer(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  ids: { organizationId: string; customerId?: string; purchaseId: string },
) {
  const { receipt, facts } = await loadReceipt({ sql: deps.sql, stripe: deps.stripe }, ids, request.log);
  if (wantsHtml(request.headers.accept)) {
    return reply.type('text/html; charset=utf-8').send(receiptHtml(receipt, facts));
  }
  return reply.send(envelope(receipt));
}

/** GET /v1/purchases/{id}/receipt (admin key; registered inside the admin plugin, behind its auth). */
export const adminReceiptRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/v1/purchases/:id/receipt',
    {
      schema: {
        tags: ['purchases'],
        summary: "A completed purchase's receipt",
        description,
        security: [{ organizationApiKey: [] }],
        params: S.IdParams('pur'),
        querystring: S.NoQuery,
        response: S.responses(200, Receipt),
      },
    },
    (request, reply) =>
      answer(deps, request, reply, { organizationId: orgOf(request), purchaseId: request.params.id }),
  );
};

/** GET /v1/portal/purchases/{id}/receipt (portal session; registered inside the portal plugin). */
export const portalReceiptRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/v1/portal/purchases/:id/receipt',
    {
      schema: {
        tags: ['portal'],
        summary: "The receipt of one of this customer's completed purchases",
        description,
        security: [{ portalSession: [] }],
        params: S.IdParams('pur'),
        querystring: S.NoQuery,
        response: S.responses(200, Receipt),
      },
    },
    (request, reply) => {
      const { organizationId, customerId } = sessionOf(request);
      return answer(deps, request, reply, { organizationId, customerId, purchaseId: request.params.id });
    },
  );
};
