import type { Sql } from '../../src/db/client';

/** A customer's row lock held by a transaction of its own (see holdCustomerRow). */
export interface HeldCustomerRow {
  /** The backend holding the lock (for `pg_blocking_pids`). */
  pid: number;
  /** Ends the holding transaction; resolves once it has committed. */
  release: () => Promise<void>;
}

/**
 * Holds a customer's row (`select … for update`) in a transaction of its own, as a concurrent writer
 * would: the credit grant, which locks the purchase and its customer, waits on it until `release()`.
 * Resolves once the lock is held.
 */
export async function holdCustomerRow(sql: Sql, customerId: string): Promise<HeldCustomerRow> {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held: (pid: number) => void = () => {};
  const isHeld = new Promise<number>((resolve) => {
    held = resolve;
  });
  const transaction = sql.begin(async (tx) => {
    await tx`select id from customers where id = ${customerId} for update`;
    held(Number((await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]?.pid));
    await released;
  });
  // A transaction that fails before holding the lock must fail the caller, not leave it waiting.
  const pid = await Promise.race([
    isHeld,
    transaction.then((): never => {
      throw new Error(`the transaction holding customer ${customerId} ended before it held the row`);
    }),
  ]);
  return {
    pid,
    release: async () => {
      release();
      await transaction;
    },
  };
}
