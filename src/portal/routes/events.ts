import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listEvents, toApiEvent } from '../../db/events';
import { createWebhookEndpoint, listWebhookEndpoints } from '../../db/webhook-endpoints';
import { AppError } from '../../domain/errors';
import { endpointUrlProblem, eventTypes, MAX_ENDPOINT_URL_LENGTH } from '../../domain/events';
import { deleteEndpointAndStopDeliveries } from '../../purchases/event-deliveries';
import { envelope, orgOf, type RouteDeps } from '../context';
import * as S from '../schemas';

const adminSecurity = [{ organizationApiKey: [] }];
const closed = { additionalProperties: false } as const;

const EventType = Type.Enum(eventTypes);
const DateTime = Type.String({ format: 'date-time' });

const ApiEvent = Type.Object({
  id: Type.String({ pattern: '^evt_[A-Za-z0-9]{8,64}$' }),
  type: EventType,
  createdAt: DateTime,
  data: Type.Union([
    Type.Object(
      { purchase: S.AdminPurchase },
      { description: 'purchase events: the admin purchase right after the transition' },
    ),
    Type.Object(
      { customerId: S.Id('cus'), autoTopUp: Type.Object({}, { additionalProperties: true }) },
      { description: 'auto_top_up.paused' },
    ),
  ]),
});

const EventQuery = Type.Object(
  {
    type: Type.Optional(EventType),
    purchaseId: Type.Optional(S.Id('pur')),
    limit: Type.Optional(S.Limit),
  },
  closed,
);

const WebhookEndpointFields = {
  id: S.Id('we'),
  url: Type.String(),
  events: Type.Array(EventType),
  createdAt: DateTime,
};
const WebhookEndpoint = Type.Object(WebhookEndpointFields);
const CreatedWebhookEndpoint = Type.Object({
  ...WebhookEndpointFields,
  secret: Type.String({ description: 'whsec_…: signs every delivery; shown this once' }),
});
const CreateWebhookEndpointBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: MAX_ENDPOINT_URL_LENGTH,
      description: 'an absolute http(s) URL; loopback and private addresses only in test mode',
    }),
    events: Type.Optional(
      Type.Array(EventType, {
        minItems: 1,
        maxItems: eventTypes.length,
        uniqueItems: true,
        description: 'the event types it receives; omitted: all of them',
      }),
    ),
  },
  closed,
);

/**
 * Events and webhook endpoints (admin key; registered inside the admin plugin, whose auth hook
 * applies). Events are recorded by the database (migration 00010) and delivered by the worker.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { config, sql, temporal }) => {
  app.get(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: "The organization's events, newest first",
        description:
          'One event per purchase transition into completed, failed, refunded, canceled, expired, ineligible, requires_action or awaiting_payment_method, per partial refund, and per dispute opened; recorded in the transaction of the change. data.purchase is the admin purchase as it was right after it.',
        security: adminSecurity,
        querystring: EventQuery,
        response: S.responses(200, Type.Array(ApiEvent)),
      },
    },
    async (request) => envelope((await listEvents(sql, orgOf(request), request.query)).map(toApiEvent)),
  );

  app.post(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags: ['events'],
        summary: 'Create a webhook endpoint (answers its signing secret once)',
        description:
          'Every event of the listed types is POSTed to the URL, signed in the Credit-Packs-Signature header (docs/webhooks.md); retried with exponential backoff for 3 days until a 2xx answer within 10 s.',
        security: adminSecurity,
        body: CreateWebhookEndpointBody,
        response: S.responses(201, CreatedWebhookEndpoint),
      },
    },
    async (request, reply) => {
      const url = request.body.url.trim();
      const problem = endpointUrlProblem(url, { allowPrivate: !config.stripeIsReal });
      if (problem) throw new AppError('validation_failed', problem);
      const created = await createWebhookEndpoint(sql, orgOf(request), {
        url,
        events: request.body.events ?? eventTypes,
      });
      return reply.status(201).send(envelope(created));
    },
  );

  app.get(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags: ['events'],
        summary: "The organization's webhook endpoints, oldest first (secrets are not shown again)",
        security: adminSecurity,
        querystring: S.NoQuery,
        response: S.responses(200, Type.Array(WebhookEndpoint)),
      },
    },
    async (request) => envelope(await listWebhookEndpoints(sql, orgOf(request))),
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags: ['events'],
        summary: 'Delete a webhook endpoint; its pending deliveries stop',
        security: adminSecurity,
        params: S.IdParams('we'),
        response: S.responses(200, Type.Object({ id: S.Id('we'), deleted: Type.Literal(true) })),
      },
    },
    async (request) => {
      const endpointId = request.params.id;
      await deleteEndpointAndStopDeliveries(
        { sql, temporal },
        { organizationId: orgOf(request), endpointId },
        request.log,
      );
      return envelope({ id: endpointId, deleted: true as const });
    },
  );
};
