import type { ApiErrorCode, paths } from './generated/openapi.js';

/**
 * The API's shapes, taken from the generated OpenAPI types (./generated/openapi.ts), so they follow
 * the served document: regenerate with `npm run sdk:generate` when the routes change.
 */

type Operation<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];

/** The JSON body of the `S` answer of an operation. */
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number> =
  Operation<P, M> extends { responses: { [K in S]: { content: { 'application/json': infer B } } } }
    ? B
    : never;

/** The `data` of a successful answer. */
export type DataOf<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  Answer<P, M, S> extends { data: infer D } ? D : never;

/** The JSON request body of an operation. */
export type BodyOf<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** The query parameters of an operation. */
export type QueryOf<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

// Envelope ------------------------------------------------------------------------------------------

/** The API's error codes (docs/api.md#errors, generated), plus the SDK's own for answers that never came. */
export type ErrorCode =
  | ApiErrorCode
  // the SDK's own: no answer (connection refused or reset), no answer in time, an answer that is not the envelope
  | 'connection_error'
  | 'timeout'
  | 'invalid_response'
  // a code a newer server may send
  | (string & {});

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export interface Success<T> {
  success: true;
  data: T;
}

export interface Failure {
  success: false;
  error: ErrorBody;
}

/** Every answer: `{ success: true, data }` or `{ success: false, error: { code, message } }`. */
export type Envelope<T> = Success<T> | Failure;

/** What a method resolves to: the envelope, or only its success side when the client throws on errors. */
export type Result<T, Throw extends boolean> = Promise<Throw extends true ? Success<T> : Envelope<T>>;

/** Per-call options. */
export interface RequestOptions {
  /** overrides the client's timeoutMs for this call (each attempt) */
  timeoutMs?: number;
  /** overrides the client's maxRetries for this call */
  maxRetries?: number;
  /** aborts the call (and its retries) */
  signal?: AbortSignal;
}

export interface IdempotentRequestOptions extends RequestOptions {
  /** Idempotency-Key header (1–255 characters); one is generated per call when omitted, and reused by retries */
  idempotencyKey?: string;
}

// Admin ---------------------------------------------------------------------------------------------

export type CreditPack = DataOf<'/v1/credit-packs/{id}', 'get'>;
export type CreditPackCreateParams = BodyOf<'/v1/credit-packs', 'post'>;
export type CreditPackUpdateParams = BodyOf<'/v1/credit-packs/{id}', 'patch'>;
export type CreditPackListParams = QueryOf<'/v1/credit-packs', 'get'>;

export type Plan = DataOf<'/v1/plans/{id}', 'get'>;
export type PlanCreateParams = BodyOf<'/v1/plans', 'post'>;

export type Customer = DataOf<'/v1/customers/{id}', 'get'>;
export type CustomerCreateParams = BodyOf<'/v1/customers', 'post'>;
export type CustomerListParams = QueryOf<'/v1/customers', 'get'>;
export type Balance = DataOf<'/v1/customers/{id}/balance', 'get'>;

export type Subscription = DataOf<'/v1/subscriptions/{id}', 'get'>;
export type SubscriptionCreateParams = BodyOf<'/v1/subscriptions', 'post'>;
export type SubscriptionUpdateParams = BodyOf<'/v1/subscriptions/{id}', 'patch'>;
export type SubscriptionListParams = QueryOf<'/v1/subscriptions', 'get'>;

export type PortalSession = DataOf<'/v1/portal-sessions', 'post', 201>;
export type PortalSessionCreateParams = BodyOf<'/v1/portal-sessions', 'post'>;

/** A purchase as the admin routes answer it (with `customerId`). */
export type AdminPurchase = DataOf<'/v1/purchases/{id}', 'get'>;
export type PurchaseListParams = QueryOf<'/v1/purchases', 'get'>;
export type PurchaseStatus = AdminPurchase['status'];

/** A refund of a purchase: `status` is `pending` until Stripe answers, then `succeeded` or `failed`. */
export type Refund = DataOf<'/v1/purchases/{id}/refunds', 'post', 202>;
/** `{ amount?, reason? }`: `amount` in cents defaults to what is left (price − refundedAmount). */
export type RefundCreateParams = BodyOf<'/v1/purchases/{id}/refunds', 'post'>;
export type RefundReason = NonNullable<Refund['reason']>;
export type RefundStatus = Refund['status'];

// Portal --------------------------------------------------------------------------------------------

/** A pack as the portal offers it: exactly `{ id, name, description, credits, price, currency }`. */
export type PortalCreditPack = DataOf<'/v1/portal/credit-packs', 'get'>[number];
export type PortalBalance = DataOf<'/v1/portal/balance', 'get'>;
export type PortalMe = DataOf<'/v1/portal/me', 'get'>;
export type PortalSettings = DataOf<'/v1/portal/settings', 'get'>;
/** A purchase as the portal answers it. */
export type Purchase = DataOf<'/v1/portal/purchases/{id}', 'get'>;
export type PurchaseCreateParams = BodyOf<'/v1/portal/purchases', 'post'>;
export type PortalPurchaseListParams = QueryOf<'/v1/portal/purchases', 'get'>;

/** The card on file (`{ brand, last4, expMonth, expYear }`), or null. */
export type PortalPaymentMethod = DataOf<'/v1/portal/payment-method', 'get'>;
/** `{ clientSecret }` of the SetupIntent that replaces the card once confirmed. */
export type PaymentMethodReplacement = DataOf<'/v1/portal/payment-method', 'post', 201>;
export type PaymentMethodRefreshParams = BodyOf<'/v1/portal/payment-method/refresh', 'post'>;

/** A customer's auto top-up: its settings, `state` and `pausedReason` (docs/auto-top-up.md). */
export type AutoTopUp = DataOf<'/v1/portal/auto-top-up', 'get'>;
/** `{ enabled, thresholdCredits, creditPackId, quantity?, monthlyLimit }` */
export type AutoTopUpParams = BodyOf<'/v1/portal/auto-top-up', 'put'>;

export type TestCard = DataOf<'/v1/portal/test-mode/cards', 'get'>[number];
export type TestModeConfirmParams = BodyOf<'/v1/portal/test-mode/setup-intents/{id}/confirm', 'post'>;
export type TestModeAuthenticateParams = BodyOf<
  '/v1/portal/test-mode/setup-intents/{id}/authenticate',
  'post'
>;
export type TestModeStep = DataOf<'/v1/portal/test-mode/setup-intents/{id}/confirm', 'post'>;
