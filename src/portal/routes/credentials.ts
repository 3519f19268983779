import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { revokePortalSession, rotateApiKey } from '../../db/credentials';
import { envelope, orgOf, type RouteDeps } from '../context';
import * as S from '../schemas';

const adminSecurity = [{ organizationApiKey: [] }];

/** Rotating the organization's API key and revoking portal sessions (admin key; inside the admin plugin). */
export const credentialRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { sql }) => {
  app.post(
    '/v1/api-keys/rotate',
    {
      schema: {
        tags: ['credentials'],
        summary: "Rotate the organization's API key; answers the new key, shown this once",
        description:
          'The key this request used (and any key rotated out before) keeps working for 24 h, so clients can switch over; with revokeOldNow: true every other key stops at once.',
        security: adminSecurity,
        body: Type.Optional(
          Type.Object(
            {
              revokeOldNow: Type.Optional(
                Type.Boolean({ description: 'stop the old keys now (default false)' }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: S.responses(
          201,
          Type.Object({ apiKey: Type.String({ description: 'orgkey_…, shown once' }) }),
        ),
      },
    },
    async (request, reply) => {
      const rotated = await rotateApiKey(sql, orgOf(request), {
        revokeOldNow: request.body?.revokeOldNow === true,
      });
      request.log.info({ organizationId: orgOf(request) }, 'API key rotated');
      return reply.status(201).send(envelope(rotated));
    },
  );

  app.post(
    '/v1/portal-sessions/:id/revoke',
    {
      schema: {
        tags: ['portal sessions'],
        summary: 'Revoke a portal session: its token answers 401 from now on (idempotent)',
        security: adminSecurity,
        params: S.IdParams('pss'),
        response: S.responses(
          200,
          Type.Object({ id: S.Id('pss'), revoked: Type.Literal(true), revokedAt: Type.String() }),
        ),
      },
    },
    async (request) => {
      const revoked = await revokePortalSession(sql, {
        organizationId: orgOf(request),
        sessionId: request.params.id,
      });
      return envelope({ id: revoked.id, revoked: true as const, revokedAt: revoked.revokedAt });
    },
  );
};
