import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { renewSubscription } from '../../db/billing';
import { requestBodyHash } from '../../db/idempotency';
import { recordUsage } from '../../db/usage';
import { notifyAutoTopUp, startTopUp, topUpContext } from '../../purchases/auto-top-up';
import { envelope, orgOf, type RouteDeps, requiredIdempotencyKey } from '../context';
import * as S from '../schemas';

const adminSecurity = [{ organizationApiKey: [] }];

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'required: the same key, path and body answer the first answer again and use nothing (kept at least 24 h); the same key with another path or body is refused (409)',
    }),
  ),
});

/**
 * Plan credits and usage (admin key; registered inside the admin plugin, whose auth hook applies):
 * a subscription's renewal, and a customer's usage of credits.
 */
export const creditRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { sql, config, temporal }) => {
  app.post(
    '/v1/subscriptions/:id/renew',
    {
      schema: {
        tags: ['billing data'],
        summary:
          "Start a subscription's next period: unused plan credits expire, includedCredits are granted again",
        description:
          "In one transaction: what is left of the customer's plan credits expires (never below zero), and the plan's includedCredits are granted for the new period if the subscription is active or trialing on a credits plan. Purchased credits never expire. 422 subscription_canceled / subscription_ended: only a live subscription is renewed.",
        security: adminSecurity,
        params: S.IdParams('sub'),
        response: S.responses(200, S.Subscription),
      },
    },
    async (request) => envelope(await renewSubscription(sql, orgOf(request), request.params.id)),
  );

  app.post(
    '/v1/customers/:id/usage',
    {
      schema: {
        tags: ['billing data'],
        summary:
          "Use a customer's credits: plan credits first, then purchased ones; answers the balance after it",
        description:
          "Requires an Idempotency-Key header (1–255 characters). Allowed only if credits ≤ total; taken from planCredits first down to 0, then from purchasedCredits. 409 insufficient_credits: nothing is used. Concurrent usage of one customer is serialised and never overdraws. Usage that leaves the total below the customer's auto top-up threshold starts one top-up purchase (none while one is in flight).",
        security: adminSecurity,
        params: S.IdParams('cus'),
        headers: IdempotencyHeaders,
        body: S.UsageBody,
        response: S.responses(200, S.Balance),
      },
    },
    async (request, reply) => {
      const key = requiredIdempotencyKey(request);
      const { statusCode, balance, topUp } = await recordUsage(
        sql,
        {
          organizationId: orgOf(request),
          customerId: request.params.id,
          credits: request.body.credits,
          idempotencyKey: key,
          requestPath: `/v1/customers/${request.params.id}/usage`,
          requestHash: requestBodyHash({ credits: request.body.credits }),
        },
        topUpContext(),
      );
      // Usage that left the total below the auto top-up threshold recorded a top-up: start it (best
      // effort: the sweep starts it if Temporal is away; the usage stands either way).
      await startTopUp({ temporal, config, log: request.log }, topUp);
      // A top-up recorded or a pause decided at the threshold: the customer's workflow mirrors it.
      await notifyAutoTopUp(
        { sql, temporal, config, log: request.log },
        { organizationId: orgOf(request), customerId: request.params.id },
        'usage',
      );
      return reply.status(statusCode).send(envelope(balance));
    },
  );
};
