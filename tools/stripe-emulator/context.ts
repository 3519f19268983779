import { parameterUnknown } from './errors';
import type { Params, Spec } from './params';
import type { Store } from './state';

export interface RequestContext {
  store: Store;
  params: Params;
  pathParams: Record<string, string>;
  requestId: string;
  idempotencyKey: string | null;
  /** the request's Stripe-Version (or the emulator's default) */
  apiVersion: string;
  /** creates an event (`evt_…`), stores it and queues its webhook deliveries (never blocks the response) */
  emit(type: string, object: unknown, previousAttributes?: Record<string, unknown>): void;
  /** marks a PaymentIntent as concerned by this request (for the per-PaymentIntent request counter) */
  touchPaymentIntent(id: string): void;
  /**
   * Something Stripe does later, on its own (a test card's dispute, a refund's final status): runs once this
   * request's answer is computed, at once or after the emulator's async delay (or never, when the delay is
   * `manual`: a test then acts through the control API), with a context that has no request (its events
   * carry `request: { id: null }`).
   */
  defer(job: (ctx: RequestContext) => void): void;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** e.g. `/v1/payment_intents/:id/confirm` */
  pattern: string;
  spec: Spec;
  handler: (ctx: RequestContext) => unknown;
}

/**
 * API 2026-09-30 (stripe-node 23) replaced `payment_method_types` on PaymentIntent/SetupIntent params by
 * `allowed_payment_method_types`; older versions still take `payment_method_types`. Returns the requested types.
 */
export function paymentMethodTypes(ctx: RequestContext): string[] | null {
  const legacy = ctx.params.payment_method_types as string[] | undefined;
  const allowed = ctx.params.allowed_payment_method_types as string[] | undefined;
  if (legacy !== undefined && ctx.apiVersion >= '2026-09-30') throw parameterUnknown('payment_method_types');
  return allowed ?? legacy ?? null;
}

export interface ListParams {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
}

export const listSpec: Spec = {
  limit: { t: 'int', min: 1, max: 100 },
  starting_after: { t: 'string' },
  ending_before: { t: 'string' },
};

export function matchesCreated(created: number, filter: unknown): boolean {
  if (!filter) return true;
  const f = filter as { eq?: number; gt?: number; gte?: number; lt?: number; lte?: number };
  if (f.eq !== undefined && created !== f.eq) return false;
  if (f.gt !== undefined && !(created > f.gt)) return false;
  if (f.gte !== undefined && !(created >= f.gte)) return false;
  if (f.lt !== undefined && !(created < f.lt)) return false;
  if (f.lte !== undefined && !(created <= f.lte)) return false;
  return true;
}
