import { randomUUID } from 'node:crypto';
import type {
  Envelope,
  ErrorCode,
  Failure,
  IdempotentRequestOptions,
  RequestOptions,
  Result,
} from './types.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RETRIES = 2;
/** Backoff between retries without a usable Retry-After: 0.5 s, 1 s, 2 s, … capped at 8 s (with jitter). */
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 8_000;
/** A Retry-After longer than this is not waited for: the backoff applies instead. */
const RETRY_AFTER_CAP_MS = 60_000;

/** A `success: false` answer (or no answer), thrown when the client was made with `throwOnError: true`. */
export class CreditPacksError extends Error {
  override readonly name = 'CreditPacksError';
  /** the envelope's `error.code`, or the SDK's `connection_error` / `timeout` / `invalid_response` */
  readonly code: ErrorCode;
  /** the HTTP status, or null when no answer came */
  readonly status: number | null;
  /** the answer's `Request-Id` (or `X-Request-Id`) header; null when absent (the API sends none today) */
  readonly requestId: string | null;

  constructor(init: { code: ErrorCode; message: string; status: number | null; requestId: string | null }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
  }
}

export interface TransportOptions {
  /** bearer credential: an organization API key (orgkey_…) or a portal session token (pst_…) */
  token: string;
  baseUrl?: string;
  timeoutMs?: number;
  maxRetries?: number;
  throwOnError?: boolean;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  path: string;
  query?: object | undefined;
  body?: unknown;
  /**
   * How the request may be retried: `safe` (reads, and writes the API documents as idempotent),
   * `keyed` (a POST that takes an Idempotency-Key: one is generated when the caller gave none, and every
   * retry sends the same), or `unsafe` (retried only when the server cannot have run it).
   */
  retry: 'safe' | 'keyed' | 'unsafe';
  options?: (RequestOptions & Partial<Pick<IdempotentRequestOptions, 'idempotencyKey'>>) | undefined;
}

interface Attempt {
  envelope: Envelope<unknown>;
  status: number | null;
  requestId: string | null;
  retryAfterMs: number | null;
  /** whether the server cannot have processed the request (the connection was refused) */
  notSent: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Retry-After in milliseconds: delta-seconds or an HTTP date; null when absent or unusable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function backoffMs(retry: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retry);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function failure(code: ErrorCode, message: string): Failure {
  return { success: false, error: { code, message } };
}

function isEnvelope(value: unknown): value is Envelope<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { success?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } };
  if (v.success === true) return 'data' in v;
  return v.success === false && typeof v.error?.code === 'string' && typeof v.error.message === 'string';
}

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** One HTTP client per credential: builds requests, retries what may be retried, reads the envelope. */
export class Transport {
  readonly baseUrl: string;
  readonly throwOnError: boolean;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;

  constructor(options: TransportOptions) {
    if (typeof options.token !== 'string' || options.token === '')
      throw new TypeError('A credential is required.');
    this.token = options.token;
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = Math.max(0, Math.floor(options.maxRetries ?? DEFAULT_MAX_RETRIES));
    this.throwOnError = options.throwOnError ?? false;
  }

  /** Sends the request (with its retries) and resolves to the envelope, or throws when throwOnError is set. */
  async request<T>(spec: RequestSpec): Promise<Envelope<T>> {
    const options = spec.options ?? {};
    const maxRetries = Math.max(0, Math.floor(options.maxRetries ?? this.maxRetries));
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.token}`,
    };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (spec.retry === 'keyed') headers['idempotency-key'] = options.idempotencyKey ?? randomUUID();
    const url = this.url(spec.path, spec.query);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);

    let attempt: Attempt;
    for (let retry = 0; ; retry++) {
      attempt = await this.send(url, spec.method, headers, body, options);
      if (attempt.envelope.success || retry >= maxRetries || !this.retryable(spec, attempt)) break;
      const delay =
        attempt.retryAfterMs !== null && attempt.retryAfterMs <= RETRY_AFTER_CAP_MS
          ? attempt.retryAfterMs
          : backoffMs(retry);
      await sleep(delay, options.signal);
    }
    if (!attempt.envelope.success && this.throwOnError) {
      throw new CreditPacksError({
        ...attempt.envelope.error,
        status: attempt.status,
        requestId: attempt.requestId,
      });
    }
    return attempt.envelope as Envelope<T>;
  }

  private url(path: string, query: object | undefined): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /**
   * Safe and keyed requests are retried on no answer, 429 and 5xx; an unsafe one only when it cannot
   * have been processed: the connection was refused, or the server answered 429.
   */
  private retryable(spec: RequestSpec, attempt: Attempt): boolean {
    const { status } = attempt;
    if (spec.retry === 'unsafe') return attempt.notSent || status === 429;
    return status === null || status === 429 || status >= 500;
  }

  private async send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    options: RequestOptions,
  ): Promise<Attempt> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, body, signal, redirect: 'error' });
      text = await response.text();
    } catch (error) {
      // The caller's own abort ends the call at once, whatever the error mode.
      if (options.signal?.aborted) throw options.signal.reason;
      const noAnswer = { status: null, requestId: null, retryAfterMs: null };
      if (timeout.aborted) {
        return {
          ...noAnswer,
          notSent: false,
          envelope: failure('timeout', `No answer from ${method} ${url} within ${timeoutMs} ms.`),
        };
      }
      const code = causeCode(error);
      const cause = (error as { cause?: unknown } | null)?.cause;
      const detail =
        code ??
        (cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error));
      return {
        ...noAnswer,
        notSent: code === 'ECONNREFUSED',
        envelope: failure('connection_error', `${method} ${url} failed: ${detail}.`),
      };
    }
    const requestId = response.headers.get('request-id') ?? response.headers.get('x-request-id');
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const envelope: Envelope<unknown> = isEnvelope(parsed)
      ? parsed
      : failure(
          'invalid_response',
          `${method} ${url} answered ${response.status} without the JSON envelope.`,
        );
    // A 2xx that says success: false, or an error status that says success: true, is not trusted.
    if (envelope.success !== response.ok) {
      return {
        envelope: failure(
          'invalid_response',
          `${method} ${url} answered ${response.status} with a mismatched envelope.`,
        ),
        status: response.status,
        requestId,
        retryAfterMs,
        notSent: false,
      };
    }
    return { envelope, status: response.status, requestId, retryAfterMs, notSent: false };
  }
}

/** `/v1/x/{id}` with the id percent-encoded. */
export const pathOf = (strings: TemplateStringsArray, ...ids: string[]) =>
  strings.reduce((path, part, i) => path + part + (i < ids.length ? encodeURIComponent(ids[i]!) : ''), '');

/** A group of methods over one transport; `Throw` types what they resolve to. */
export abstract class Resource<Throw extends boolean> {
  constructor(protected readonly transport: Transport) {}
  protected call<T>(spec: RequestSpec): Result<T, Throw> {
    return this.transport.request<T>(spec) as Result<T, Throw>;
  }
}
