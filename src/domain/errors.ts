/**
 * The stable, machine-readable error codes of the product's HTTP answers and the status each maps to
 * (listed in /openapi.json). A purchase's own `failure.code` (card_declined, authentication_failed,
 * payment_method_not_added, …) is the workflow's; some coincide with these.
 * Pure (no I/O, no Node imports): usable from workflow code, activities and the HTTP layer alike.
 */
export const errorStatus = {
  // client mistakes in the request itself
  validation_failed: 400,
  invalid_json: 400,
  idempotency_key_missing: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429, // too many requests per credential or per client address; Retry-After says when to retry

  // resources
  plan_not_found: 404,
  customer_not_found: 404,
  subscription_not_found: 404,
  credit_pack_not_found: 404,
  purchase_not_found: 404,
  portal_session_not_found: 404,
  webhook_endpoint_not_found: 404,
  receipt_not_found: 404, // the purchase never completed, so it has no receipt
  setup_intent_not_found: 404, // not a card replacement of this customer (GET/POST /v1/portal/payment-method)

  // conflicts
  credit_pack_name_taken: 409,
  plan_name_taken: 409,
  credit_pack_archived: 409,
  // Never answered since docs/security.md's linking rule: POST /v1/customers turns it into 422
  // stripe_customer_not_found (telling an organization that another one linked it leaks that it exists).
  // Kept while src/db still throws it on the unique link.
  stripe_customer_taken: 409,
  // POST /v1/customers: the stripeCustomerId to link is unknown to Stripe, deleted, already linked to a
  // customer (of any organization), or neither its email nor metadata.customer_email match the customer's
  stripe_customer_not_found: 422,
  subscription_exists: 409,
  purchase_not_cancelable: 409,
  purchase_not_waiting: 409, // test mode: the purchase is not at the card or 3-D Secure step asked about
  setup_intent_not_succeeded: 409, // a card replacement whose SetupIntent has not succeeded (yet): nothing changed
  idempotency_key_reused: 409,
  insufficient_credits: 409, // usage of more credits than the customer's total (plan + purchased); nothing is used
  not_refundable: 409, // a refund of a purchase not completed, above what is left, or under an open or lost dispute

  // eligibility (docs/domain.md#domain-rules)
  plan_not_credits_based: 422,
  pack_not_visible: 422,
  subscription_inactive: 422,
  subscription_past_due: 422,
  subscription_canceled: 422,
  subscription_ended: 422,
  quantity_exceeds_limit: 422,
  // Named by docs/domain.md#domain-rules, but no answer carries it today: a missing card is not a refusal here (the
  // purchase asks for one: nextAction add_payment_method), and a purchase whose card never came
  // expires with the failure code payment_method_not_added. Kept for clients that map the domain rules' codes.
  no_payment_method: 422,

  // payment outcomes
  card_declined: 402,
  authentication_required: 402,
  payment_failed: 402,

  // ours
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;

export const errorCodes = Object.keys(errorStatus) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorStatus, value);
}

export function httpStatusFor(code: ErrorCode): number {
  return errorStatus[code];
}

/** A failure with a stable code, safe to show to the caller (the message must not leak secrets). */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = errorStatus[code];
  }

  toBody(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
