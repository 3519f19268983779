/**
 * The soak's HTTP client of the product's API: retries what may be retried (network errors, timeouts,
 * 5xx, 429) with the same Idempotency-Key where the API takes one, and counts every transient error it
 * met, so the report says how often the API was unavailable and why.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface TransientCounts {
  /** requests sent (each attempt) */
  attempts: number;
  /** per cause (`network`, `timeout`, `http_503`, …): attempts that failed and were retried */
  retried: Record<string, number>;
  /** calls that gave up after their last attempt or their deadline */
  gaveUp: number;
}

export function apiClient(baseUrl: string, counts: TransientCounts, isStopping: () => boolean) {
  /**
   * One call, retried until it answers 2xx or a 4xx; a 4xx throws ApiError at once. `deadline`: the
   * time (ms since epoch) after which a call that keeps failing gives up.
   */
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API
  async function call<T = any>(
    method: string,
    path: string,
    token: string,
    options: { body?: unknown; idempotencyKey?: string; deadline: number },
  ): Promise<T> {
    let delay = 200;
    for (;;) {
      counts.attempts++;
      let cause: string;
      try {
        const response = await fetch(`${baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(20_000),
        });
        const text = await response.text();
        // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API
        let json: any = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          // an answer outside the envelope: treated by its status
        }
        if (response.ok && json?.success === true) return json.data as T;
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          throw new ApiError(
            response.status,
            json?.error?.code,
            `${method} ${path} → ${response.status} ${text.slice(0, 300)}`,
          );
        }
        cause = `http_${response.status}`;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) delay = Math.max(delay, retryAfter * 1000);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        const name = (error as Error).name;
        cause = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network';
      }
      counts.retried[cause] = (counts.retried[cause] ?? 0) + 1;
      if (Date.now() + delay > options.deadline || isStopping()) {
        counts.gaveUp++;
        throw new Error(`${method} ${path}: gave up after ${cause}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
  return { call };
}

/** Retries an operation of the soak's own (its Stripe calls) on any error but the ones `fatal` names. */
export async function retrying<T>(
  what: string,
  counts: TransientCounts,
  deadline: number,
  fn: () => Promise<T>,
  fatal: (error: unknown) => boolean = () => false,
): Promise<T> {
  let delay = 200;
  for (;;) {
    counts.attempts++;
    try {
      return await fn();
    } catch (error) {
      if (fatal(error)) throw error;
      const e = error as { type?: string; statusCode?: number };
      const cause = `stripe_${e.statusCode ?? e.type ?? 'error'}`;
      counts.retried[cause] = (counts.retried[cause] ?? 0) + 1;
      if (Date.now() + delay > deadline) {
        counts.gaveUp++;
        throw new Error(`${what}: gave up after ${String(error)}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
