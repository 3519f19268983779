import { createHmac } from 'node:crypto';
import { AppError } from '../domain/errors';
import { safeEqual } from './secrets';

/**
 * Portal session tokens (pst_…): HMAC-signed, short-lived, bound to one organization and one
 * customer. Issued by POST /v1/portal-sessions and by the demo data; verified on every /v1/portal/*
 * request (src/portal/auth.ts).
 */

export const PORTAL_TOKEN_PREFIX = 'pst_';

export interface PortalSessionClaims {
  organizationId: string;
  customerId: string;
  /** unix seconds */
  expiresAt: number;
  /** the revocable session (pss_…) a token of POST /v1/portal-sessions names; null for one without */
  sessionId: string | null;
}

interface Payload {
  v: 1;
  o: string;
  c: string;
  exp: number;
  iat: number;
  /** the portal session's id, when the token was issued for a recorded session */
  s?: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function sign(secret: string, encodedPayload: string): string {
  return createHmac('sha256', secret).update(`${PORTAL_TOKEN_PREFIX}${encodedPayload}`).digest('base64url');
}

/**
 * A signed token bound to one organization and one customer, valid for `ttlSeconds`, naming its
 * recorded session when it has one (then revocable: src/db/credentials.ts).
 */
export function issuePortalToken(
  secret: string,
  claims: { organizationId: string; customerId: string; sessionId?: string },
  ttlSeconds: number,
  now: Date = new Date(),
): { token: string; expiresAt: Date } {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ttlSeconds;
  const payload: Payload = {
    v: 1,
    o: claims.organizationId,
    c: claims.customerId,
    exp,
    iat,
    ...(claims.sessionId ? { s: claims.sessionId } : {}),
  };
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
    (payload.s !== undefined && typeof payload.s !== 'string') ||
    payload.exp * 1000 <= now.getTime()
  ) {
    throw invalid();
  }
  return {
    organizationId: payload.o,
    customerId: payload.c,
    expiresAt: payload.exp,
    sessionId: payload.s ?? null,
  };
}

/** The portal page link; the token rides in the fragment so it never reaches server logs or Referer headers. */
export function portalLink(portalUrl: string, token: string): string {
  return `${portalUrl}/portal#token=${encodeURIComponent(token)}`;
}
