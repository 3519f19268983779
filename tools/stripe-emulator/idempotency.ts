/**
 * Idempotent requests as Stripe documents them: a POST with an `Idempotency-Key` stores the first response
 * (status and body, errors included) once the endpoint started executing, and replays it for 24 h with
 * `Idempotent-Replayed: true`; the same key on another endpoint or with other parameters answers 400
 * `idempotency_error`; a request while the first one with that key is still running answers 409
 * `idempotency_key_in_use`. Keys are scoped per API key (per account in Stripe).
 */

import { Collection } from './collection';

const ttlMs = 24 * 60 * 60 * 1000;

export interface IdempotencyEntry {
  endpoint: string;
  params: string;
  state: 'in_flight' | 'done';
  status: number;
  body: unknown;
  requestId: string;
  createdAt: number;
}

export type BeginResult =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: unknown; requestId: string }
  | { kind: 'in_flight' }
  | { kind: 'endpoint_mismatch'; endpoint: string }
  | { kind: 'params_mismatch' };

/** Canonical JSON (sorted keys) so parameter order does not matter. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export class IdempotencyStore {
  /**
   * By `scope \u0000 key`. The state file keeps the finished, unexpired entries: a request still in flight
   * is not an answer to keep (a restart loses it, as a crash would).
   */
  readonly entries = new Collection<IdempotencyEntry>(
    'idempotency',
    {},
    false,
    (entry) => entry.state === 'done' && Date.now() - entry.createdAt < ttlMs,
  );

  private static id(scope: string, key: string): string {
    return `${scope}\u0000${key}`;
  }

  begin(scope: string, key: string, endpoint: string, params: string, requestId: string): BeginResult {
    const id = IdempotencyStore.id(scope, key);
    const existing = this.entries.get(id);
    if (existing && Date.now() - existing.createdAt < ttlMs) {
      if (existing.endpoint !== endpoint) return { kind: 'endpoint_mismatch', endpoint: existing.endpoint };
      if (existing.params !== params) return { kind: 'params_mismatch' };
      if (existing.state === 'in_flight') return { kind: 'in_flight' };
      return { kind: 'replay', status: existing.status, body: existing.body, requestId: existing.requestId };
    }
    this.entries.set(id, {
      endpoint,
      params,
      state: 'in_flight',
      status: 0,
      body: null,
      requestId,
      createdAt: Date.now(),
    });
    return { kind: 'new' };
  }

  complete(scope: string, key: string, status: number, body: unknown): void {
    const entry = this.entries.get(IdempotencyStore.id(scope, key));
    if (entry) Object.assign(entry, { state: 'done', status, body });
  }

  /** Nothing was executed (validation error, injected fault, dropped before): the key stays free. */
  abandon(scope: string, key: string): void {
    this.entries.delete(IdempotencyStore.id(scope, key));
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Test-only: forgets the finished keys (all, or those starting with `prefix`), as Stripe forgets a key after
   * 24 h, so a request reusing one executes afresh. A key whose first request is still running is kept.
   * Returns the keys expired.
   */
  expire(prefix?: string): string[] {
    const expired: string[] = [];
    for (const [id, entry] of this.entries) {
      const key = id.slice(id.indexOf('\u0000') + 1);
      if (entry.state !== 'done' || (prefix !== undefined && !key.startsWith(prefix))) continue;
      this.entries.delete(id);
      expired.push(key);
    }
    return expired;
  }

  /** Test-only: the keys held (not their answers), for the control API. */
  list(): {
    key: string;
    endpoint: string;
    state: IdempotencyEntry['state'];
    status: number;
    createdAt: number;
  }[] {
    return [...this.entries].map(([id, e]) => ({
      key: id.slice(id.indexOf('\u0000') + 1),
      endpoint: e.endpoint,
      state: e.state,
      status: e.status,
      createdAt: e.createdAt,
    }));
  }

  /** Forgets the entries past their 24 h (after a restart: the file may hold some). */
  dropExpired(): void {
    const now = Date.now();
    for (const [id, entry] of this.entries) if (now - entry.createdAt >= ttlMs) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
