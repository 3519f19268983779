import { fileURLToPath } from 'node:url';
import shift from 'postgres-shift';
import { createSql } from './client';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/** Arbitrary constant: the advisory lock that serialises concurrent migration runs. */
const MIGRATION_LOCK_ID = 4_242_001;

/**
 * Applies every pending migration (forward only, each in the same transaction as its bookkeeping).
 * Safe to run concurrently from several processes: a session advisory lock on the single connection
 * makes the second runner wait and then find nothing to do.
 */
export async function migrate(databaseUrl: string, log: (line: string) => void = () => {}): Promise<number> {
  const sql = createSql(databaseUrl, { maxConnections: 1, applicationName: 'credit-pack-migrate' });
  let applied = 0;
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await shift({
      sql,
      path: MIGRATIONS_DIR,
      before: ({ migration_id, name }) => {
        applied += 1;
        log(`migration ${migration_id} ${name}`);
      },
    });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  return applied;
}
