import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { safeEqual } from '../db/ids';
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

// ------------------------------------------------------------------ portal session tokens

export const PORTAL_TOKEN_PREFIX = 'pst_';

export interface PortalSessionClaims {
  organizationId: string;
  customerId: string;
  /** unix seconds */
  expiresAt: number;
}

interface Payload {
  v: 1;
  o: string;
  c: string;
  exp: number;
  iat: number;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function sign(secret: string, encodedPayload: string): string {
  return createHmac('sha256', secret).update(`${PORTAL_TOKEN_PREFIX}${encodedPayload}`).digest('base64url');
}

/** A signed token bound to one organization and one customer, valid for `ttlSeconds`. */
export function issuePortalToken(
  secret: string,
  claims: { organizationId: string; customerId: string },
  ttlSeconds: number,
  now: Date = new Date(),
): { token: string; expiresAt: Date } {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ttlSeconds;
  const payload: Payload = { v: 1, o: claims.organizationId, c: claims.customerId, exp, iat };
  const encoded = b64url(JSON.stringify(payload));
  return {
    token: `${PORTAL_TOKEN_PREFIX}${encoded}.${sign(secret, encoded)}`,
    expiresAt: new Date(exp * 1000),
  };
}

/** The claims of a valid, unexpired token; throws `unauthorized` otherwise (never says which check failed). */
export function verifyPortalToken(
  secret: string,
  token: string,
  now: Date = new Date(),
): PortalSessionClaims {
  const invalid = () => new AppError('unauthorized', 'Invalid or expired portal session.');
  if (!token.startsWith(PORTAL_TOKEN_PREFIX)) throw invalid();
  const [encoded, signature, ...rest] = token.slice(PORTAL_TOKEN_PREFIX.length).split('.');
  if (!encoded || !signature || rest.length > 0) throw invalid();
  if (!safeEqual(signature, sign(secret, encoded))) throw invalid();
  let payload: Payload;
  try {
    payload = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Payload;
  } catch {
    throw invalid();
  }
  if (
    payload?.v !== 1 ||
    typeof payload.o !== 'string' ||
    typeof payload.c !== 'string' ||
    typeof payload.exp !== 'number' ||
    payload.exp * 1000 <= now.getTime()
  ) {
    throw invalid();
  }
  return { organizationId: payload.o, customerId: payload.c, expiresAt: payload.exp };
}

/** The portal page link; the token rides in the fragment so it never reaches server logs or Referer headers. */
export function portalLink(portalUrl: string, token: string): string {
  return `${portalUrl}/portal#token=${encodeURIComponent(token)}`;
}
