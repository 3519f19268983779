/**
 * Fault injection for tests: the next N API requests matching a method and path answer an error status
 * (500, 429 with Retry-After, …), stall, lose their connection before or after taking effect, or fail with a
 * 500 that Stripe stores under the request's idempotency key (`stored_error`).
 */
import { z } from 'zod';
import { newId } from './ids';

export const faultSchema = z.object({
  match: z
    .object({
      method: z.enum(['GET', 'POST', 'DELETE']).optional(),
      /** path prefix, e.g. `/v1/payment_intents` */
      path: z.string().startsWith('/').optional(),
      /** regular expression tested against the path, e.g. `^/v1/payment_intents/[^/]+/confirm$` */
      pathRegex: z.string().optional(),
    })
    .default({}),
  /** how many matching requests the fault applies to */
  times: z.number().int().positive().default(1),
  action: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('status'),
      status: z.number().int().min(400).max(599),
      retryAfterSeconds: z.number().int().nonnegative().optional(),
      /** the error's Stripe type (default api_error; invalid_request_error for a refusal) and code */
      errorType: z.enum(['api_error', 'invalid_request_error']).optional(),
      code: z.string().min(1).max(100).optional(),
    }),
    z.object({ type: z.literal('stall'), ms: z.number().int().nonnegative().max(600_000) }),
    z.object({ type: z.literal('drop_before') }),
    z.object({ type: z.literal('drop_after') }),
    /**
     * Stripe failed while executing: the request takes no effect, but its answer (default 500 `api_error`) is
     * stored under its Idempotency-Key and replayed to every retry with that key while the key lives.
     */
    z.object({ type: z.literal('stored_error'), status: z.number().int().min(500).max(599).default(500) }),
  ]),
});

export type FaultInput = z.input<typeof faultSchema>;
export type FaultAction = z.infer<typeof faultSchema>['action'];

export interface Fault {
  id: string;
  match: { method?: string; path?: string; pathRegex?: string };
  remaining: number;
  hits: number;
  action: FaultAction;
}

export class Faults {
  list: Fault[] = [];

  add(input: unknown): Fault {
    const parsed = faultSchema.parse(input);
    if (parsed.match.pathRegex) new RegExp(parsed.match.pathRegex); // throws on a bad pattern
    const fault: Fault = {
      id: newId('fault'),
      match: parsed.match,
      remaining: parsed.times,
      hits: 0,
      action: parsed.action,
    };
    this.list.push(fault);
    return fault;
  }

  /** The first armed fault matching the request, consumed by one; null when none matches. */
  take(method: string, path: string): Fault | null {
    for (const fault of this.list) {
      const { match } = fault;
      if (fault.remaining <= 0) continue;
      if (match.method && match.method !== method) continue;
      if (match.path && !path.startsWith(match.path)) continue;
      if (match.pathRegex && !new RegExp(match.pathRegex).test(path)) continue;
      fault.remaining--;
      fault.hits++;
      return fault;
    }
    return null;
  }

  clear(): void {
    this.list = [];
  }
}
