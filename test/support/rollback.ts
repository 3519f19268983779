import type postgres from 'postgres';

class Rollback extends Error {}

/**
 * Runs `fn` in a transaction of `sql` that is always rolled back, returning what `fn` returned: a
 * breakage planted for a check to find leaves nothing behind.
 */
export async function inRolledBackTransaction<T>(
  sql: postgres.Sql,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await sql
    .begin(async (tx) => {
      result = await fn(tx);
      throw new Rollback();
    })
    .catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });
  return result as T;
}
