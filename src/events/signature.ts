import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature of event deliveries (docs/webhooks.md): each POST carries
 * `Credit-Packs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint
 * secret>`, Stripe's scheme. The worker signs with `signatureHeader`; receivers check with
 * `verifySignature` (or `constructEvent`), on the raw bytes as received, before parsing the JSON.
 *
 * Exported for receivers as `credit-pack-purchase-worker/webhooks` (package.json "exports"), and the
 * same scheme as the SDK's `webhooks.verify` (packages/sdk/src/webhooks.ts): no dependency but node:crypto.
 */

export const SIGNATURE_HEADER = 'Credit-Packs-Signature';
/** How far a signature's timestamp may be from now (seconds) before it is refused as a replay. */
export const DEFAULT_TOLERANCE_S = 300;

export type SignatureFailure =
  | 'missing_header'
  | 'malformed_header'
  | 'no_matching_signature'
  | 'timestamp_outside_tolerance';

export class SignatureVerificationError extends Error {
  override readonly name = 'SignatureVerificationError';
  constructor(
    readonly reason: SignatureFailure,
    message: string,
  ) {
    super(message);
  }
}

type RawBody = string | Uint8Array;

const bytesOf = (body: RawBody): Buffer =>
  typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

function hmac(timestamp: string, body: RawBody, secret: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(bytesOf(body)).digest();
}

/** The header value signing `body` with `secret` at `timestamp` (unix seconds; default now). */
export function signatureHeader(
  body: RawBody,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  const t = String(timestamp);
  return `t=${t},v1=${hmac(t, body, secret).toString('hex')}`;
}

/** Why the signature fails, or null when it holds. */
export function signatureFailure(
  rawBody: RawBody,
  header: string | null | undefined,
  secret: string,
  { toleranceS = DEFAULT_TOLERANCE_S, nowS = Math.floor(Date.now() / 1000) } = {},
): { reason: SignatureFailure; message: string } | null {
  if (header === undefined || header === null || header.trim() === '')
    return { reason: 'missing_header', message: `No ${SIGNATURE_HEADER} header.` };
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && timestamp === undefined) timestamp = value;
    else if (key === 'v1') signatures.push(value);
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp))
    return { reason: 'malformed_header', message: `${SIGNATURE_HEADER} has no valid t= timestamp.` };
  if (signatures.length === 0)
    return { reason: 'malformed_header', message: `${SIGNATURE_HEADER} has no v1= signature.` };
  const expected = hmac(timestamp, rawBody, secret);
  const matches = signatures.some(
    (hex) => /^[0-9a-fA-F]{64}$/.test(hex) && timingSafeEqual(Buffer.from(hex, 'hex'), expected),
  );
  if (!matches)
    return {
      reason: 'no_matching_signature',
      message: 'No v1 signature matches the body and secret (tampered body, or another secret).',
    };
  if (Math.abs(nowS - Number(timestamp)) > toleranceS)
    return {
      reason: 'timestamp_outside_tolerance',
      message: `The signature's timestamp is more than ${toleranceS} s from now (a replay?).`,
    };
  return null;
}

/** Whether `header` signs `rawBody` with `secret`, with a timestamp within `toleranceS` of now. */
export function verifySignature(
  rawBody: RawBody,
  header: string | null | undefined,
  secret: string,
  toleranceS = DEFAULT_TOLERANCE_S,
): boolean {
  return signatureFailure(rawBody, header, secret, { toleranceS }) === null;
}

/** The delivered event (parsed JSON) once its signature holds; throws SignatureVerificationError otherwise. */
export function constructEvent<T = { id: string; type: string; createdAt: string; data: unknown }>(
  rawBody: RawBody,
  header: string | null | undefined,
  secret: string,
  toleranceS = DEFAULT_TOLERANCE_S,
): T {
  const failure = signatureFailure(rawBody, header, secret, { toleranceS });
  if (failure) throw new SignatureVerificationError(failure.reason, failure.message);
  return JSON.parse(bytesOf(rawBody).toString('utf8')) as T;
}
