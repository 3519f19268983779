import Stripe from 'stripe';

/**
 * The one reading of a Stripe SDK error, shared by the activities (which turn it into what Temporal
 * should do: retry or a typed failure) and the HTTP routes (which turn it into an answer of the API).
 * Each caller maps the kinds it cares about; the classification itself is written once, here.
 *
 *   card_declined            402 card_error, any code but authentication_required: the customer's outcome
 *   authentication_required  402 card_error authentication_required: 3-D Secure needed
 *   rate_limited             429: retry after `retryAfterMs` (the server's Retry-After, bounded)
 *   unavailable              network error, Stripe's 5xx, 409 (the same key in flight): retry, same key
 *   not_found                400/404 invalid_request resource_missing: the object does not exist
 *   invalid_request          any other invalid_request_error: the request itself is wrong
 *   rejected                 everything else Stripe refuses (401, 403, idempotency mismatch, …)
 */
export type StripeErrorKind =
  | 'card_declined'
  | 'authentication_required'
  | 'rate_limited'
  | 'unavailable'
  | 'not_found'
  | 'invalid_request'
  | 'rejected';

export interface StripeErrorClass {
  kind: StripeErrorKind;
  error: Stripe.errors.StripeError;
  /** Only for `rate_limited`: how long the server asked us to wait, capped at MAX_RETRY_AFTER_MS. */
  retryAfterMs?: number | undefined;
}

/** Upper bound on a server-requested wait, so a wild Retry-After cannot park a purchase for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** What a Stripe error means; null when the error did not come from the Stripe SDK at all. */
export function classifyStripeError(error: unknown): StripeErrorClass | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  if (error instanceof Stripe.errors.StripeCardError) {
    return {
      kind: error.code === 'authentication_required' ? 'authentication_required' : 'card_declined',
      error,
    };
  }
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return { kind: 'rate_limited', error, retryAfterMs: retryAfterMs(error) };
  }
  const status = error.statusCode ?? 0;
  if (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    status === 409 ||
    status >= 500
  ) {
    return { kind: 'unavailable', error };
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    const missing = error.code === 'resource_missing' || status === 404;
    return { kind: missing ? 'not_found' : 'invalid_request', error };
  }
  return { kind: 'rejected', error };
}

function retryAfterMs(error: Stripe.errors.StripeError): number | undefined {
  const header = error.headers?.['retry-after'];
  const seconds = header === undefined ? Number.NaN : Number(header);
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
}

/** Stripe's answer when an object changed state under a request (canceling what just succeeded). */
export function isUnexpectedState(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    (error.code === 'payment_intent_unexpected_state' || error.code === 'setup_intent_unexpected_state')
  );
}
