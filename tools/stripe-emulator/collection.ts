/**
 * One kind of object in the emulator's account (customers, PaymentIntents, …): a Map by id that also
 *
 * - remembers creation order (a sequence number per id), so a list walks from the newest object and
 *   stops after `limit + 1` matches instead of copying and reversing every object;
 * - keeps secondary indexes (e.g. PaymentIntents by `customer`), so a list filtered by an indexed field
 *   touches only that field's objects: a request costs the same at 1,000 and at 100,000 objects;
 * - records which ids were read or written (`get`, `set`, `delete`), for the indexes and the state
 *   journal (state-file.ts). Objects are changed in place after a `get` (the resources do
 *   `ctx.store.paymentIntents.get(id)!.status = …`), so a touched id is looked at again once the
 *   synchronous work that touched it is over (a microtask later for the indexes, or before any indexed
 *   read; the journal a turn of the event loop later), never at the touch itself.
 *
 * Rule for the resources: change an object only after a `get` or `set` of it in the same synchronous
 * stretch of code (every route handler is synchronous, and deferred jobs `get` again). Iterating
 * (`values()`, `entries()`) does not record anything: it is for reading.
 *
 * Indexes are append-only lists of sequence numbers, sorted: an object whose indexed field changes
 * (a PaymentMethod detached, then attached to another customer) is added to the new value's list; the
 * old entry stays and is skipped on read, as are deleted objects.
 */
import type { Params } from './params';

export type IndexKey<V> = (value: V) => string | null | undefined;

export interface ListPage<V> {
  object: 'list';
  data: V[];
  has_more: boolean;
  url: string;
}

export interface ListFilter<V> {
  /** an index declared for this collection, and the value looked for */
  index?: [name: string, value: string];
  /** any other condition, checked on each object walked */
  where?: (value: V) => boolean;
}

/** What the state journal needs from a collection (state-file.ts). */
export interface CollectionSink {
  /** some ids were touched or the collection was cleared: a commit is due */
  changed(): void;
}

export class Collection<V extends object> extends Map<string, V> {
  /** ids touched since the indexes last looked */
  private touched = new Set<string>();
  private settleQueued = false;
  /** ids by sequence number (creation order); `undefined` once deleted */
  private order: (string | undefined)[] = [];
  private seqOf = new Map<string, number>();
  private readonly indexes = new Map<string, Map<string, number[]>>();

  /** journal: ids touched since its last commit, the hash of each object as last written, whether cleared */
  sink: CollectionSink | null = null;
  readonly pending = new Set<string>();
  readonly written = new Map<string, string>();
  clearedSinceCommit = false;

  constructor(
    readonly kind: string,
    private readonly indexKeys: Record<string, IndexKey<V>> = {},
    private readonly ordered = true,
    /** whether an object is kept in the state file (default: all) */
    readonly persisted: (value: V) => boolean = () => true,
  ) {
    super();
    for (const name of Object.keys(indexKeys)) this.indexes.set(name, new Map());
  }

  override get(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) this.touch(key);
    return value;
  }

  /** A read that records nothing (lists, the journal). */
  peek(key: string): V | undefined {
    return super.get(key);
  }

  override set(key: string, value: V): this {
    if (this.ordered && !super.has(key)) {
      this.seqOf.set(key, this.order.length);
      this.order.push(key);
    }
    super.set(key, value);
    this.touch(key);
    return this;
  }

  override delete(key: string): boolean {
    if (!super.delete(key)) return false;
    const seq = this.seqOf.get(key);
    if (seq !== undefined) {
      this.order[seq] = undefined;
      this.seqOf.delete(key);
    }
    this.touch(key);
    return true;
  }

  override clear(): void {
    super.clear();
    this.order = [];
    this.seqOf.clear();
    for (const index of this.indexes.values()) index.clear();
    this.touched.clear();
    this.pending.clear();
    this.written.clear();
    this.clearedSinceCommit = true;
    this.sink?.changed();
  }

  private touch(key: string): void {
    this.touched.add(key);
    if (!this.settleQueued) {
      this.settleQueued = true;
      queueMicrotask(() => this.settle());
    }
  }

  /** Brings the indexes up to date with the objects touched, and hands their ids to the journal. */
  settle(): void {
    this.settleQueued = false;
    if (this.touched.size === 0) return;
    const hasIndexes = this.indexes.size > 0;
    for (const key of this.touched) {
      if (this.sink) this.pending.add(key);
      if (!hasIndexes) continue;
      const value = super.get(key);
      const seq = this.seqOf.get(key);
      if (value === undefined || seq === undefined) continue;
      for (const [name, index] of this.indexes) {
        const v = (this.indexKeys[name] as IndexKey<V>)(value);
        if (v === null || v === undefined) continue;
        let seqs = index.get(v);
        if (!seqs) {
          seqs = [];
          index.set(v, seqs);
        }
        insertSorted(seqs, seq);
      }
    }
    this.touched.clear();
    this.sink?.changed();
  }

  /** The first object (oldest) whose indexed field has this value. */
  first(index: string, value: string): V | undefined {
    this.settle();
    const key = this.indexKeys[index] as IndexKey<V>;
    for (const seq of this.indexes.get(index)?.get(value) ?? []) {
      const id = this.order[seq];
      const object = id === undefined ? undefined : super.get(id);
      if (object !== undefined && key(object) === value) return object;
    }
    return undefined;
  }

  /**
   * Stripe's list envelope, newest first, cursor pagination by id (`starting_after`, `ending_before`),
   * `limit` (default 10). Cost: the objects walked until `limit + 1` matches, in the index's list when
   * one is named, else in the whole collection.
   */
  list(params: Params, url: string, filter: ListFilter<V> = {}): ListPage<V> {
    this.settle();
    const limit = (params.limit as number | undefined) ?? 10;
    const after = params.starting_after as string | undefined;
    const before = params.ending_before as string | undefined;
    let seqs: number[] | null = null;
    let indexKey: IndexKey<V> | null = null;
    let indexValue: string | null = null;
    if (filter.index) {
      const [name, value] = filter.index;
      const index = this.indexes.get(name);
      if (!index) throw new Error(`no index ${name} on ${this.kind}`);
      seqs = index.get(value) ?? [];
      indexKey = this.indexKeys[name] as IndexKey<V>;
      indexValue = value;
    }
    const length = seqs ? seqs.length : this.order.length;
    const seqAt = (i: number) => (seqs ? (seqs[i] as number) : i);
    const matches = (value: V) =>
      (indexKey === null || indexKey(value) === indexValue) && (!filter.where || filter.where(value));
    const at = (i: number): V | undefined => {
      const id = this.order[seqAt(i)];
      if (id === undefined) return undefined;
      const value = super.get(id);
      return value !== undefined && matches(value) ? value : undefined;
    };
    /** position of a cursor in the walked sequence, or -1 when it is not one of the listed objects */
    const positionOf = (id: string): number => {
      const seq = this.seqOf.get(id);
      const value = super.get(id);
      if (seq === undefined || value === undefined || !matches(value)) return -1;
      if (!seqs) return seq;
      const i = lowerBound(seqs, seq);
      return seqs[i] === seq ? i : -1;
    };
    const empty: ListPage<V> = { object: 'list', data: [], has_more: false, url };
    const found: V[] = [];
    if (before !== undefined && !after) {
      // The `limit` objects just newer than the cursor, still listed newest first.
      const p = positionOf(before);
      if (p === -1) return empty;
      for (let i = p + 1; i < length && found.length <= limit; i++) {
        const value = at(i);
        if (value) found.push(value);
      }
      return { object: 'list', data: found.slice(0, limit).reverse(), has_more: found.length > limit, url };
    }
    let start = length;
    if (after) {
      start = positionOf(after);
      if (start === -1) return empty;
    }
    for (let i = start - 1; i >= 0 && found.length <= limit; i--) {
      const value = at(i);
      if (value) found.push(value);
    }
    return { object: 'list', data: found.slice(0, limit), has_more: found.length > limit, url };
  }
}

function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: number[], x: number): void {
  const last = sorted[sorted.length - 1];
  if (last === undefined || last < x) {
    sorted.push(x);
    return;
  }
  const i = lowerBound(sorted, x);
  if (sorted[i] !== x) sorted.splice(i, 0, x);
}
