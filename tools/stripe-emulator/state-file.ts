/**
 * Keeps the emulator's account across restarts, as Stripe keeps an account: customers, cards,
 * intents, charges, refunds, events and idempotent answers are written to a JSON file (atomically:
 * a temporary file renamed over it) at most once per interval when they changed, and on close; read
 * back at start. Used by the product run, whose Postgres and Temporal persist too, so a purchase's
 * Stripe customer and charges are still there after `npm start` runs again. Tests run without it.
 * Not kept: faults, webhook controls and deliveries still queued (a restart loses those, as a crash would).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
    const content = JSON.parse(text) as StateFileContent;
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
    const draft = `${this.path}.${process.pid}.tmp`;
    writeFileSync(draft, text);
    renameSync(draft, this.path);
    this.lastWritten = text;
  }

  start(): void {
    this.timer = setInterval(() => this.save(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.save();
  }
}
