import { createSql, type Sql } from '../db/client';
import { PURCHASE_STATUS_CHANNEL } from '../db/purchases';
import type { PurchaseLog } from './errors';

/** After a LISTEN that failed (Postgres unreachable), how long before a new waiter tries again. */
const LISTEN_RETRY_MS = 5_000;

/** One waiter's interest in one purchase, from `subscribe` until `unsubscribe`. */
export interface PurchaseSubscription {
  /**
   * Resolves true at the first notification for the purchase since the previous `next` (or since
   * `subscribe`: one that came in between resolves at once), or false after `timeoutMs` without one.
   */
  next(timeoutMs: number): Promise<boolean>;
  unsubscribe(): void;
}

/**
 * Wakes whoever waits for a purchase when its status changes: the NOTIFY of migration 00017's trigger
 * (payload: the purchase id), received on one LISTEN connection shared by every waiter of the process.
 * A waiter must re-read the row on a timer too (`waitForPurchase` does): a notification sent while the
 * connection is down (the listener reconnecting, Postgres restarting) is lost. Every reconnection wakes
 * every waiter once, for that reason.
 */
export interface PurchaseChanges {
  subscribe(purchaseId: string): PurchaseSubscription;
  /** Stops listening and closes the connection; later subscriptions are never notified. */
  close(): Promise<void>;
}

class Subscription implements PurchaseSubscription {
  private notified = false;
  private wake: (() => void) | null = null;

  constructor(private readonly release: (subscription: Subscription) => void) {}

  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  next(timeoutMs: number): Promise<boolean> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        this.notified = false;
        resolve(true);
      };
    });
  }

  unsubscribe(): void {
    this.release(this);
  }
}

/**
 * The listener of a process, on a connection of its own (a client of one connection on `databaseUrl`,
 * named `applicationName` in pg_stat_activity), opened at the first subscription, not before: a process
 * that never waits holds no extra connection. `close()` ends it (the portal's app closes it on shutdown).
 */
export function createPurchaseChanges(options: {
  databaseUrl: string;
  log: Pick<PurchaseLog, 'error'>;
  applicationName?: string;
}): PurchaseChanges {
  const waiters = new Map<string, Set<Subscription>>();
  let client: Sql | null = null;
  let listening: Promise<unknown> | null = null;
  let failedAt = Number.NEGATIVE_INFINITY;
  let closed = false;

  const deliver = (purchaseId: string) => {
    for (const subscription of waiters.get(purchaseId) ?? []) subscription.notify();
  };
  // On every (re)connection: what changed while the connection was down was not announced.
  const wakeAll = () => {
    for (const subscriptions of waiters.values())
      for (const subscription of subscriptions) subscription.notify();
  };

  const start = () => {
    if (closed || client || Date.now() - failedAt < LISTEN_RETRY_MS) return;
    const own = createSql(options.databaseUrl, {
      maxConnections: 1,
      applicationName: options.applicationName ?? 'credit-pack-portal-listen',
    });
    client = own;
    listening = own.listen(PURCHASE_STATUS_CHANNEL, deliver, wakeAll).catch(async (error) => {
      if (closed) return;
      options.log.error(
        { err: error },
        'cannot LISTEN for purchase status changes; waits re-read the purchase on their timer only',
      );
      failedAt = Date.now();
      if (client === own) client = null;
      await own.end({ timeout: 1 }).catch(() => undefined);
    });
  };

  return {
    subscribe(purchaseId) {
      start();
      const subscription = new Subscription((done) => {
        const set = waiters.get(purchaseId);
        if (!set) return;
        set.delete(done);
        if (set.size === 0) waiters.delete(purchaseId);
      });
      let set = waiters.get(purchaseId);
      if (!set) {
        set = new Set();
        waiters.set(purchaseId, set);
      }
      set.add(subscription);
      return subscription;
    },
    async close() {
      closed = true;
      const own = client;
      client = null;
      await own?.end({ timeout: 1 });
      await listening;
    },
  };
}
