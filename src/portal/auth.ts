import type { FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors';

/**
 * Three kinds of bearer credentials, never interchangeable:
 *   platform admin token  (config PLATFORM_ADMIN_TOKEN)        → POST /v1/organizations
 *   organization API key  (orgkey_…, stored as sha256)        → /v1/* admin routes of that organization
 *   portal session token  (pst_…, HMAC-signed, short-lived)    → /v1/portal/* for one customer
 */

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (typeof header !== 'string') throw new AppError('unauthorized', 'Missing Authorization: Bearer header.');
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  if (!match)
    throw new AppError('unauthorized', 'Malformed Authorization header; expected "Bearer <token>".');
  return match[1]!;
}
