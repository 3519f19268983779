/**
 * Keeps the emulator's account across restarts, as Stripe keeps an account: customers, cards, intents,
 * charges, refunds, disputes, events, per-PaymentIntent counters and idempotent answers. Used by the
 * product run, whose Postgres and Temporal persist too, so a purchase's Stripe customer and charges are
 * still there after `npm start` runs again. Tests run without it. Not kept: faults, webhook controls,
 * deliveries still queued, the request log (a restart loses those, as a crash would).
 *
 * Files, for a state file `state.json`:
 *
 * - `state.json`: a snapshot. Format 2: a header line `{"format":"stripe-emulator-state","version":2,
 *   "gen":g}`, then lines of records. Format 1 (one JSON document, what earlier versions rewrote whole
 *   every second) is still read.
 * - `state.json.journal.<g>`: an append-only journal of what changed since snapshot g: a header line,
 *   then one line per commit, a JSON array of records: `["p", kind, id, object]` (the object as it is
 *   now), `["d", kind, id]` (deleted), `["clear", kind]`, `["reset"]` (every kind but idempotency).
 *
 * A commit is what the requests of one turn of the event loop changed (usually one request), written one
 * turn after them as one line (`write`, no `fsync`: a crash of the process loses nothing written); the
 * journal is fsynced at most once per interval, and on close. Only the objects a request read or wrote
 * are looked at (collection.ts records them), and only those whose JSON changed are written: the file
 * grows by what changed, never by the whole account. A crash in the middle of a write leaves a torn last
 * line: it is ignored at load (the state is that of the commit before it, which is whole) and cut off
 * before the journal is appended to again.
 *
 * Compaction, when the journal outgrows both `compactAfterBytes` and the last snapshot (so its cost,
 * writing the live objects once, is paid at most once per as many bytes of journal): new writes go to
 * journal g+1 at once, and the snapshot g+1 is written to a temporary file a chunk of objects per turn
 * of the event loop (requests are answered in between), then renamed over `state.json`; journal g is
 * deleted after. Objects changed while the snapshot is written may be in it in a later state: journal
 * g+1 holds every change since the rotation as whole objects, and replaying it over the snapshot gives
 * the same state. A crash before the rename leaves snapshot g and journals g and g+1, read in order;
 * after it, journals older than the snapshot are ignored and deleted.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Collection, CollectionSink } from './collection';
import type { Emulator } from './emulator';
import type { IdempotencyEntry } from './idempotency';
import { Store, type StoreSnapshot } from './state';

const FORMAT_VERSION = 2;

/** Format 1: the whole account in one JSON document. */
interface StateFileV1 {
  version: 1;
  store: StoreSnapshot;
  idempotency: [string, IdempotencyEntry][];
}

type Record_ = ['p', string, string, object] | ['d', string, string] | ['clear', string] | ['reset'];

export interface StateFileOptions {
  /** the journal is fsynced at most this often when written (default 1000 ms) */
  intervalMs?: number;
  /** compact once the journal is larger than this and than the last snapshot (default 32 MiB) */
  compactAfterBytes?: number;
  /** objects a compaction writes per turn of the event loop (default 500) */
  compactChunk?: number;
  onError?: (error: unknown) => void;
}

interface Compaction {
  fd: number;
  tmp: string;
  previousGen: number;
}

export class StateFile {
  private readonly intervalMs: number;
  private readonly compactAfterBytes: number;
  private readonly compactChunk: number;
  private onError: (error: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  private fd: number | null = null;
  /** the journal appended to: `${path}.journal.${gen}` */
  private gen = 0;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private unsynced = false;
  private commitQueued = false;
  /** the store whose collections report to this file (a reset replaces the emulator's store) */
  private store: Store | null = null;
  private compaction: Compaction | null = null;
  private readonly sink: CollectionSink = { changed: () => this.schedule() };
  /** commits and compactions done, for tests */
  readonly stats = { commits: 0, compactions: 0 };

  constructor(
    private readonly path: string,
    private readonly emulator: Emulator,
    options: number | StateFileOptions = {},
  ) {
    const o = typeof options === 'number' ? { intervalMs: options } : options;
    this.intervalMs = o.intervalMs ?? 1_000;
    this.compactAfterBytes = o.compactAfterBytes ?? 32 * 1024 * 1024;
    this.compactChunk = o.compactChunk ?? 500;
    this.onError = o.onError ?? ((error) => console.error('stripe emulator: state not saved:', error));
  }

  journalPath(gen = this.gen): string {
    return `${this.path}.journal.${gen}`;
  }

  /**
   * Restores the saved account, if any, and opens the journal. A snapshot of another format, or a damaged
   * record anywhere but at the journal's end, is refused, not silently dropped.
   */
  load(): boolean {
    mkdirSync(dirname(this.path), { recursive: true });
    const store = new Store();
    const idempotency = this.emulator.idempotency.entries;
    idempotency.clear();
    const apply = (record: Record_) => this.apply(store, idempotency, record);
    let snapshotGen = 0;
    const found = existsSync(this.path);
    if (found) {
      const text = readFileSync(this.path, 'utf8');
      this.snapshotBytes = Buffer.byteLength(text);
      const lines = text.split('\n');
      const header = this.parse(lines[0] ?? '', this.path) as { version?: unknown; gen?: number };
      if (header.version === 1) {
        const v1 = header as unknown as StateFileV1;
        store.loadSnapshot(v1.store);
        for (const [id, entry] of v1.idempotency) idempotency.set(id, entry);
      } else if (header.version === FORMAT_VERSION) {
        snapshotGen = header.gen ?? 0;
        for (const line of lines.slice(1)) {
          if (line === '') continue;
          for (const record of this.parse(line, this.path) as Record_[]) apply(record);
        }
      } else {
        throw new Error(
          `${this.path} has state format ${String(header.version)}, expected ${FORMAT_VERSION} (or 1); move it away to start empty`,
        );
      }
    }
    const journals = this.journalGens();
    for (const gen of journals) if (gen < snapshotGen) rmSync(this.journalPath(gen), { force: true });
    const live = journals.filter((gen) => gen >= snapshotGen);
    let goodBytes = 0;
    live.forEach((gen, i) => {
      goodBytes = this.replay(gen, i === live.length - 1, apply);
    });
    this.gen = live.at(-1) ?? snapshotGen;

    for (const c of store.collections()) c.settle();
    this.emulator.store = store;
    this.emulator.idempotency.dropExpired();
    for (const c of [...store.collections(), idempotency] as Collection<object>[]) {
      c.settle();
      c.pending.clear();
      c.clearedSinceCommit = false;
      // written before, but not hashed: the first change after the restart is written once even if equal
      for (const [id, value] of c) if (c.persisted(value)) c.written.set(id, '?');
    }
    this.attach(store);
    this.openJournal(live.length > 0 ? goodBytes : 0);
    return found || live.length > 0;
  }

  private apply(store: Store, idempotency: Collection<IdempotencyEntry>, record: Record_): void {
    const of = (kind: string): Collection<object> => {
      if (kind === idempotency.kind) return idempotency as unknown as Collection<object>;
      const c = store.collections().find((x) => x.kind === kind);
      if (!c) throw new Error(`${this.path}: unknown kind ${kind}`);
      return c;
    };
    switch (record[0]) {
      case 'p':
        of(record[1]).set(record[2], record[3]);
        break;
      case 'd':
        of(record[1]).delete(record[2]);
        break;
      case 'clear':
        of(record[1]).clear();
        break;
      case 'reset':
        for (const c of store.collections()) c.clear();
        break;
    }
  }

  private parse(line: string, file: string): unknown {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new Error(
        `${file} is not a readable state file (${(error as Error).message}); move it away to start empty`,
      );
    }
  }

  private journalGens(): number[] {
    const prefix = `${basename(this.path)}.journal.`;
    return readdirSync(dirname(this.path))
      .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
      .map((name) => Number(name.slice(prefix.length)))
      .sort((a, b) => a - b);
  }

  /**
   * Applies one journal; returns the length of its whole lines. Only the last journal's last line may be
   * torn (a crash while it was written): it is ignored. Anything else unreadable is refused.
   */
  private replay(gen: number, last: boolean, apply: (record: Record_) => void): number {
    const file = this.journalPath(gen);
    const buffer = readFileSync(file);
    let offset = 0;
    let lineNo = 0;
    while (offset < buffer.length) {
      const end = buffer.indexOf(0x0a, offset);
      // A line is whole with its newline; the last one may be cut short, or be zeros a crash left.
      const torn = (reason: string) => {
        if (last && (end === -1 || end === buffer.length - 1)) return true;
        throw new Error(
          `${file} is not a readable state journal at line ${lineNo + 1} (${reason}); move it away to start from the snapshot`,
        );
      };
      if (end === -1 && torn('no end of line')) break;
      const line = buffer.subarray(offset, end).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        if (torn((error as Error).message)) break;
      }
      if (lineNo === 0) {
        const header = parsed as { format?: string; gen?: number } | null;
        if (header?.format !== 'stripe-emulator-journal' || header.gen !== gen) {
          throw new Error(`${file} is not a journal of generation ${gen}; move it away to start empty`);
        }
      } else {
        for (const record of parsed as Record_[]) apply(record);
      }
      lineNo++;
      offset = end + 1;
    }
    return offset;
  }

  /** Opens the current journal for appending, cutting a torn tail (or starting it with its header). */
  private openJournal(goodBytes: number): void {
    const file = this.journalPath();
    if (goodBytes > 0) {
      if (statSync(file).size > goodBytes) truncateSync(file, goodBytes);
      this.fd = openSync(file, 'a');
      this.journalBytes = goodBytes;
    } else {
      this.fd = openSync(file, 'w');
      const header = `${JSON.stringify({ format: 'stripe-emulator-journal', version: FORMAT_VERSION, gen: this.gen })}\n`;
      writeSync(this.fd, header);
      fsyncSync(this.fd);
      syncDirectory(dirname(file));
      this.journalBytes = Buffer.byteLength(header);
    }
  }

  private attach(store: Store): void {
    if (this.store && this.store !== store) for (const c of this.store.collections()) c.sink = null;
    this.store = store;
    for (const c of store.collections()) c.sink = this.sink;
    this.emulator.idempotency.entries.sink = this.sink;
  }

  private schedule(): void {
    if (this.commitQueued || this.fd === null) return;
    this.commitQueued = true;
    setImmediate(() => {
      try {
        this.commit();
      } catch (error) {
        this.onError(error);
      }
    });
  }

  /** Appends what changed since the last commit as one line. */
  commit(): void {
    this.commitQueued = false;
    if (this.fd === null) return;
    const records: string[] = [];
    const current = this.emulator.store;
    if (current !== this.store) {
      // The account was reset (a new store): say so, and write what the new store already holds.
      this.attach(current);
      records.push('["reset"]');
      for (const c of current.collections()) {
        c.settle();
        for (const id of c.keys()) c.pending.add(id);
      }
    }
    const written: [Collection<object>, string, string | null][] = [];
    for (const c of [...current.collections(), this.emulator.idempotency.entries] as Collection<object>[]) {
      c.settle();
      if (c.clearedSinceCommit) {
        records.push(JSON.stringify(['clear', c.kind]));
        c.clearedSinceCommit = false;
      }
      if (c.pending.size === 0) continue;
      const kind = JSON.stringify(c.kind);
      for (const id of c.pending) {
        const value = c.peek(id);
        if (value !== undefined && c.persisted(value)) {
          const json = JSON.stringify(value);
          const hash = createHash('sha1').update(json).digest('base64');
          if (c.written.get(id) === hash) continue;
          written.push([c, id, hash]);
          records.push(`["p",${kind},${JSON.stringify(id)},${json}]`);
        } else if (c.written.has(id)) {
          written.push([c, id, null]);
          records.push(`["d",${kind},${JSON.stringify(id)}]`);
        }
      }
      c.pending.clear();
    }
    if (records.length === 0) return;
    const line = `[${records.join(',')}]\n`;
    try {
      writeSync(this.fd, line);
    } catch (error) {
      // Not written: look at these objects again at the next commit.
      for (const [c, id] of written) c.pending.add(id);
      throw error;
    }
    for (const [c, id, hash] of written) {
      if (hash === null) c.written.delete(id);
      else c.written.set(id, hash);
    }
    this.stats.commits++;
    this.journalBytes += Buffer.byteLength(line);
    this.unsynced = true;
    if (!this.compaction && this.journalBytes > Math.max(this.compactAfterBytes, this.snapshotBytes)) {
      this.compact();
    }
  }

  /** The snapshot + new journal, written a chunk per turn of the event loop (see the top of the file). */
  compact(): void {
    if (this.fd === null || this.compaction) return;
    this.commit();
    fsyncSync(this.fd);
    closeSync(this.fd);
    const previousGen = this.gen;
    this.gen += 1;
    this.openJournal(0);
    this.unsynced = false;
    const tmp = `${this.path}.compact.tmp`;
    const fd = openSync(tmp, 'w');
    const compaction: Compaction = { fd, tmp, previousGen };
    this.compaction = compaction;
    const header = `${JSON.stringify({ format: 'stripe-emulator-state', version: FORMAT_VERSION, gen: this.gen })}\n`;
    let bytes = 0;
    const collections = [
      ...(this.store as Store).collections(),
      this.emulator.idempotency.entries,
    ] as Collection<object>[];
    let index = 0;
    let iterator: Iterator<[string, object]> | null = null;
    const step = () => {
      if (this.compaction !== compaction) return; // abandoned (closed)
      try {
        if (bytes === 0) {
          writeSync(fd, header);
          bytes = Buffer.byteLength(header);
        }
        const records: string[] = [];
        while (records.length < this.compactChunk && index < collections.length) {
          const c = collections[index] as Collection<object>;
          iterator ??= c.entries();
          const next = iterator.next();
          if (next.done) {
            index++;
            iterator = null;
            continue;
          }
          const [id, value] = next.value;
          if (!c.persisted(value)) continue;
          records.push(`["p",${JSON.stringify(c.kind)},${JSON.stringify(id)},${JSON.stringify(value)}]`);
        }
        if (records.length > 0) {
          const line = `[${records.join(',')}]\n`;
          writeSync(fd, line);
          bytes += Buffer.byteLength(line);
        }
        if (index < collections.length) {
          setImmediate(step);
          return;
        }
        fsyncSync(fd);
        closeSync(fd);
        renameSync(tmp, this.path);
        syncDirectory(dirname(this.path));
        for (const gen of this.journalGens())
          if (gen < this.gen) rmSync(this.journalPath(gen), { force: true });
        this.snapshotBytes = bytes;
        this.compaction = null;
        this.stats.compactions++;
      } catch (error) {
        this.abandonCompaction();
        this.onError(error);
      }
    };
    setImmediate(step);
  }

  /** Whether a compaction is being written. */
  get compacting(): boolean {
    return this.compaction !== null;
  }

  private abandonCompaction(): void {
    const c = this.compaction;
    if (!c) return;
    this.compaction = null;
    try {
      closeSync(c.fd);
    } catch {
      // already closed
    }
    rmSync(c.tmp, { force: true });
  }

  /** Commits and fsyncs once per interval; a failed write is reported and tried again, never fatal. */
  start(onError?: (error: unknown) => void): void {
    if (onError) this.onError = onError;
    this.timer = setInterval(() => {
      try {
        if (this.emulator.store !== this.store) this.commit();
        if (this.unsynced && this.fd !== null) {
          fsyncSync(this.fd);
          this.unsynced = false;
        }
      } catch (error) {
        this.onError(error);
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Writes what is left, fsyncs and closes the journal (a compaction under way is abandoned). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.fd === null) return;
    this.abandonCompaction();
    try {
      this.commit();
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = null;
      if (this.store) for (const c of this.store.collections()) c.sink = null;
      this.emulator.idempotency.entries.sink = null;
    }
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported everywhere; the rename is still atomic
  }
}
