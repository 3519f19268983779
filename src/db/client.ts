import postgres from 'postgres';

export type Sql = postgres.Sql;

export interface SqlOptions {
  maxConnections?: number;
  /** Name shown in pg_stat_activity, so an operator can tell the worker from the portal. */
  applicationName?: string;
}

/**
 * The one place a postgres.js client is made. Explicit limits: a bounded pool, a connect timeout and
 * idle recycling, so a dead database surfaces as an error instead of a hang.
 */
export function createSql(databaseUrl: string, options: SqlOptions = {}): Sql {
  return postgres(databaseUrl, {
    max: options.maxConnections ?? 10,
    connect_timeout: 10,
    idle_timeout: 30,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'credit-pack-worker' },
    // bigint columns (credit balances) come back as JS numbers; they are bounded far below 2^53.
    types: {
      bigint: postgres.BigInt,
    },
  });
}
