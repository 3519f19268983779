/**
 * Keeps the emulator's account across restarts, as Stripe keeps an account: customers, cards,
 * intents, charges, refunds, events and idempotent answers are written to a JSON file (atomically:
 * a temporary file renamed over it) at most once per interval when they changed, and on close; read
 * back at start. Used by the product run, whose Postgres and Temporal persist too, so a purchase's
 * Stripe customer and charges are still there after `npm start` runs again. Tests run without it.
 * Not kept: faults, webhook controls and deliveries still queued (a restart loses those, as a crash would).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Emulator } from './emulator';
import { Store, type StoreSnapshot } from './state';

const FORMAT_VERSION = 1;

interface StateFileContent {
  version: typeof FORMAT_VERSION;
  store: StoreSnapshot;
  idempotency: ReturnType<Emulator['idempotency']['snapshot']>;
}

export class StateFile {
  private timer: NodeJS.Timeout | null = null;
  private lastWritten = '';

  constructor(
    private readonly path: string,
    private readonly emulator: Emulator,
    private readonly intervalMs = 1_000,
  ) {}

  /** Restores the saved account, if any. A file of another format is refused, not silently dropped. */
  load(): boolean {
    if (!existsSync(this.path)) return false;
    const text = readFileSync(this.path, 'utf8');
    let content: StateFileContent;
    try {
      content = JSON.parse(text) as StateFileContent;
    } catch (error) {
      throw new Error(
        `${this.path} is not a readable state file (${(error as Error).message}); move it away to start empty`,
      );
    }
    if (content.version !== FORMAT_VERSION) {
      throw new Error(
        `${this.path} has state format ${String(content.version)}, expected ${FORMAT_VERSION}; move it away to start empty`,
      );
    }
    this.emulator.store = Store.fromSnapshot(content.store);
    this.emulator.idempotency.restore(content.idempotency);
    this.lastWritten = text;
    return true;
  }

  /** Writes the account if it changed since the last write. */
  save(): void {
    const content: StateFileContent = {
      version: FORMAT_VERSION,
      store: this.emulator.store.snapshot(),
      idempotency: this.emulator.idempotency.snapshot(),
    };
    const text = JSON.stringify(content);
    if (text === this.lastWritten) return;
    // Written whole, flushed, then renamed over the old file: a crash leaves the old or the new state.
    mkdirSync(dirname(this.path), { recursive: true });
    const draft = `${this.path}.${process.pid}.tmp`;
    try {
      const fd = openSync(draft, 'w');
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(draft, this.path);
    } catch (error) {
      rmSync(draft, { force: true });
      throw error;
    }
    this.lastWritten = text;
  }

  /** Saves once per interval when changed; a failed save is reported and tried again, never fatal. */
  start(
    onError: (error: unknown) => void = (error) => console.error('stripe emulator: state not saved:', error),
  ): void {
    this.timer = setInterval(() => {
      try {
        this.save();
      } catch (error) {
        onError(error);
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.save();
  }
}
