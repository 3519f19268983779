import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Stripe from 'stripe';
import { classifyStripeError } from '../stripe/errors';
import { FailureType, nonRetryable } from './failures';

/**
 * Turns a Stripe SDK error into what Temporal should do with it (the error's reading is
 * src/stripe/errors.ts, shared with the HTTP routes):
 * - card errors (declines, authentication_required) are outcomes: non-retryable, typed;
 * - requests Stripe refuses as such (400/401/403/404, idempotency mismatch) are non-retryable: retrying
 *   the same request cannot succeed;
 * - 429 is retried after the server's Retry-After; 409 (same key in flight), 5xx and network errors,
 *   including a timeout after the request was sent, are retried with backoff, always with the same
 *   idempotency key, so an ambiguous charge resolves to the first result instead of a second charge.
 */
export interface StripeCallOptions {
  /**
   * For compensations (refund, cancel): a request Stripe refuses is retried too, because giving up on
   * an undo leaves money outstanding; a revoked key or a Stripe-side refusal is for an operator to fix
   * while the activity keeps retrying (visible in the UI as a pending activity with its last failure).
   */
  rejectionsRetryable?: boolean;
}

/** The options compensation activities pass to every Stripe call. */
export const compensating: StripeCallOptions = { rejectionsRetryable: true };

export function toActivityFailure(error: unknown, operation: string, options: StripeCallOptions = {}): Error {
  const classified = classifyStripeError(error);
  if (!classified) return error instanceof Error ? error : new Error(String(error));
  const stripeError = classified.error;
  const what = `${operation}: ${stripeError.message}`;
  switch (classified.kind) {
    case 'authentication_required':
    case 'card_declined':
      // Inside an undo, a card error is Stripe refusing the undo, not the customer's outcome: retried
      // like every refusal there, so the compensation is never given up.
      if (options.rejectionsRetryable) {
        return ApplicationFailure.create({ type: 'StripeRequestRejected', message: what });
      }
      return cardFailure(classified.kind, stripeError, what);
    case 'rate_limited':
      return ApplicationFailure.create({
        type: 'StripeRateLimited',
        message: what,
        nextRetryDelay: classified.retryAfterMs,
      });
    case 'unavailable':
      return ApplicationFailure.create({ type: 'StripeUnavailable', message: what });
    case 'not_found':
    case 'invalid_request':
    case 'rejected': {
      const detail = `${what} (HTTP ${stripeError.statusCode ?? 0}, ${stripeError.code ?? stripeError.type})`;
      if (options.rejectionsRetryable)
        return ApplicationFailure.create({ type: 'StripeRequestRejected', message: detail });
      return nonRetryable(FailureType.PaymentRequestRejected, detail);
    }
  }
}

/** How often a Stripe activity tells Temporal it is alive while a request is pending. */
const HEARTBEAT_INTERVAL_MS = 2_000;

/**
 * Runs one Stripe call and classifies what it throws. While the request is pending the activity
 * heartbeats, so a worker that dies mid-request (SIGKILL, OOM) is noticed within the heartbeat timeout
 * and the call is retried, with the same idempotency key, on another worker.
 */
export async function stripeCall<T>(
  operation: string,
  call: () => Promise<T>,
  options: StripeCallOptions = {},
): Promise<T> {
  const context = activityContext();
  context?.heartbeat({ operation });
  const timer = context
    ? setInterval(() => context.heartbeat({ operation }), HEARTBEAT_INTERVAL_MS)
    : undefined;
  try {
    return await call();
  } catch (error) {
    throw toActivityFailure(error, operation, options);
  } finally {
    clearInterval(timer);
  }
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (scripts, tests of the classifier)
  }
}

/** A PaymentIntent or SetupIntent still processing: retried (with backoff) until Stripe settles it. */
export function stillProcessing(what: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'StillProcessing', message: `${what} is still processing` });
}

/** A card error as the customer's outcome: 3-D Secure needed, or a decline, typed and non-retryable. */
function cardFailure(
  kind: 'authentication_required' | 'card_declined',
  stripeError: Stripe.errors.StripeError,
  what: string,
): ApplicationFailure {
  if (kind === 'authentication_required') {
    const paymentIntent = stripeError.payment_intent;
    if (!paymentIntent?.id || !paymentIntent.client_secret) {
      return nonRetryable(FailureType.PaymentRequestRejected, `${what} (no PaymentIntent in the error)`);
    }
    return nonRetryable(FailureType.AuthenticationRequired, what, {
      paymentIntentId: paymentIntent.id,
      clientSecret: paymentIntent.client_secret,
    });
  }
  return nonRetryable(FailureType.CardDeclined, what, {
    code: stripeError.code ?? 'card_declined',
    declineCode: stripeError.decline_code ?? null,
    message: stripeError.message,
    paymentIntentId: stripeError.payment_intent?.id ?? null,
  });
}
