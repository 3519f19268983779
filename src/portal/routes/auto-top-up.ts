import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type AutoTopUpSettings, getAutoTopUp, saveAutoTopUp } from '../../db/auto-top-up';
import { autoTopUpPausedReasons, autoTopUpStates } from '../../domain/auto-top-up';
import { notifyAutoTopUp, startTopUp, topUpContext } from '../../purchases/auto-top-up';
import { envelope, orgOf, type RouteDeps, sessionOf } from '../context';
import * as S from '../schemas';

/**
 * Auto top-up settings (docs/auto-top-up.md): admin `GET/PUT /v1/customers/{id}/auto-top-up`, portal
 * `GET/PUT /v1/portal/auto-top-up` (each registered inside its plugin, whose auth hook applies). A PUT
 * that leaves the total below the threshold starts the top-up at once.
 */

const closed = { additionalProperties: false } as const;

export const AutoTopUpBody = Type.Object(
  {
    enabled: Type.Boolean(),
    thresholdCredits: Type.Integer({
      minimum: 0,
      maximum: 100_000_000,
      description: 'a top-up starts when usage, a reversal or this PUT leaves the total below this',
    }),
    creditPackId: S.Id('cpk', 'the pack bought; one the customer can buy now (else its eligibility code)'),
    quantity: Type.Optional(
      Type.Integer({ minimum: 1, description: 'packs per top-up (default 1, at most the purchase limit)' }),
    ),
    monthlyLimit: Type.Integer({
      minimum: 0,
      maximum: 100_000_000,
      description:
        "cents: a top-up is not started when this UTC month's completed or in-progress auto top-ups plus its price exceed it",
    }),
  },
  closed,
);

export const AutoTopUp = Type.Object({
  enabled: Type.Boolean(),
  thresholdCredits: Type.Union([Type.Integer(), Type.Null()]),
  creditPackId: Type.Union([Type.String(), Type.Null()]),
  quantity: Type.Union([Type.Integer(), Type.Null()]),
  monthlyLimit: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.Union(autoTopUpStates.map((s) => Type.Literal(s))),
  pausedReason: Type.Union([...autoTopUpPausedReasons.map((r) => Type.Literal(r)), Type.Null()]),
});

const settingsOf = (body: {
  enabled: boolean;
  thresholdCredits: number;
  creditPackId: string;
  quantity?: number | undefined;
  monthlyLimit: number;
}): AutoTopUpSettings => ({
  enabled: body.enabled,
  thresholdCredits: body.thresholdCredits,
  creditPackId: body.creditPackId,
  quantity: body.quantity ?? 1,
  monthlyLimit: body.monthlyLimit,
});

const GET_DESCRIPTION =
  'Before any PUT: enabled false, state off, the other fields null. state: active, paused (pausedReason says why) or off.';
const PUT_DESCRIPTION =
  'Saves the settings, resets the decline count and lifts any pause. The pack must be one the customer can buy now: otherwise its code (credit_pack_not_found, credit_pack_archived, pack_not_visible, subscription_*, plan_not_credits_based); quantity above the purchase limit: 422 quantity_exceeds_limit. If the total is already below thresholdCredits, one top-up purchase (trigger auto_top_up) starts.';

export const adminAutoTopUpRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { sql, config, temporal } = deps;
  const security = [{ organizationApiKey: [] }];
  app.get(
    '/v1/customers/:id/auto-top-up',
    {
      schema: {
        tags: ['auto top-up'],
        summary: "A customer's auto top-up",
        description: GET_DESCRIPTION,
        security,
        params: S.IdParams('cus'),
        response: S.responses(200, AutoTopUp),
      },
    },
    async (request) =>
      envelope(
        await getAutoTopUp(
          sql,
          { organizationId: orgOf(request), customerId: request.params.id },
          new Date(),
        ),
      ),
  );
  app.put(
    '/v1/customers/:id/auto-top-up',
    {
      schema: {
        tags: ['auto top-up'],
        summary: "Save a customer's auto top-up",
        description: PUT_DESCRIPTION,
        security,
        params: S.IdParams('cus'),
        body: AutoTopUpBody,
        response: S.responses(200, AutoTopUp),
      },
    },
    async (request) => {
      const ids = { organizationId: orgOf(request), customerId: request.params.id };
      const { autoTopUp, topUp } = await saveAutoTopUp(sql, ids, settingsOf(request.body), {
        ...topUpContext(),
        maxQuantity: config.MAX_PURCHASE_QUANTITY,
      });
      await startTopUp({ temporal, config, log: request.log }, topUp);
      await notifyAutoTopUp({ sql, temporal, config, log: request.log }, ids, 'settings saved');
      return envelope(autoTopUp);
    },
  );
};

export const portalAutoTopUpRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { sql, config, temporal } = deps;
  const security = [{ portalSession: [] }];
  app.get(
    '/v1/portal/auto-top-up',
    {
      schema: {
        tags: ['portal'],
        summary: "The customer's auto top-up",
        description: GET_DESCRIPTION,
        security,
        querystring: S.NoQuery,
        response: S.responses(200, AutoTopUp),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      return envelope(await getAutoTopUp(sql, { organizationId, customerId }, new Date()));
    },
  );
  app.put(
    '/v1/portal/auto-top-up',
    {
      schema: {
        tags: ['portal'],
        summary: "Save the customer's auto top-up",
        description: PUT_DESCRIPTION,
        security,
        body: AutoTopUpBody,
        response: S.responses(200, AutoTopUp),
      },
    },
    async (request) => {
      const { organizationId, customerId } = sessionOf(request);
      const { autoTopUp, topUp } = await saveAutoTopUp(
        sql,
        { organizationId, customerId },
        settingsOf(request.body),
        { ...topUpContext(), maxQuantity: config.MAX_PURCHASE_QUANTITY },
      );
      await startTopUp({ temporal, config, log: request.log }, topUp);
      await notifyAutoTopUp(
        { sql, temporal, config, log: request.log },
        { organizationId, customerId },
        'settings saved',
      );
      return envelope(autoTopUp);
    },
  );
};
