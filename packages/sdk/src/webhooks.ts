import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AdminPurchase, AutoTopUp } from './types.js';

export type { AutoTopUp };

/**
 * The product's outgoing events (docs/api.md, "Events and webhook endpoints"; agreed, not sent yet):
 * each delivery is a POST of the event, signed in the header
 * `Credit-Packs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret>`,
 * Stripe's scheme. Verify on the raw bytes as received, before any JSON parsing.
 */

export const SIGNATURE_HEADER = 'Credit-Packs-Signature';
export const DEFAULT_TOLERANCE_S = 300;

export type PurchaseEventType =
  | 'purchase.completed'
  | 'purchase.failed'
  | 'purchase.refunded'
  | 'purchase.canceled'
  | 'purchase.expired'
  | 'purchase.ineligible'
  | 'purchase.requires_action'
  | 'purchase.awaiting_payment_method'
  | 'purchase.partially_refunded'
  | 'purchase.disputed';

export interface PurchaseEvent {
  id: string;
  type: PurchaseEventType;
  createdAt: string;
  /** the admin purchase as it was right after the transition */
  data: { purchase: AdminPurchase };
}

export interface AutoTopUpPausedEvent {
  id: string;
  type: 'auto_top_up.paused';
  createdAt: string;
  data: { customerId: string; autoTopUp: AutoTopUp };
}

/** An event as delivered (no envelope); switch on `type`. */
export type CreditPacksEvent = PurchaseEvent | AutoTopUpPausedEvent;

export type SignatureFailure =
  | 'missing_header'
  | 'malformed_header'
  | 'no_matching_signature'
  | 'timestamp_outside_tolerance';

/** A delivery whose signature does not hold; `reason` says why. */
export class CreditPacksSignatureError extends Error {
  override readonly name = 'CreditPacksSignatureError';
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

/** Why the signature fails, or null when it holds. */
function check(
  rawBody: RawBody,
  header: string | null | undefined,
  secret: string,
  toleranceS: number,
  nowS: number,
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
  const matches = signatures.some((hex) => {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
    return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
  });
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

/**
 * Whether `signatureHeader` (the Credit-Packs-Signature value) signs `rawBody` with `secret`, with a
 * timestamp within `toleranceS` seconds of now. Any one of several v1 entries may match (the secret
 * is being rolled).
 */
export function verify(
  rawBody: RawBody,
  signatureHeader: string | null | undefined,
  secret: string,
  toleranceS = DEFAULT_TOLERANCE_S,
): boolean {
  return check(rawBody, signatureHeader, secret, toleranceS, Math.floor(Date.now() / 1000)) === null;
}

/** The delivered event, after verifying it as `verify` does; throws CreditPacksSignatureError when it fails. */
export function constructEvent(
  rawBody: RawBody,
  signatureHeader: string | null | undefined,
  secret: string,
  toleranceS = DEFAULT_TOLERANCE_S,
): CreditPacksEvent {
  const failure = check(rawBody, signatureHeader, secret, toleranceS, Math.floor(Date.now() / 1000));
  if (failure) throw new CreditPacksSignatureError(failure.reason, failure.message);
  return JSON.parse(bytesOf(rawBody).toString('utf8')) as CreditPacksEvent;
}

/** A header value for `payload`, as the product will sign it: for testing a receiver. */
export function generateTestHeader(options: {
  payload: RawBody;
  secret: string;
  timestamp?: number;
}): string {
  const t = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return `t=${t},v1=${hmac(t, options.payload, options.secret).toString('hex')}`;
}

export const webhooks = { verify, constructEvent, generateTestHeader, SIGNATURE_HEADER } as const;
