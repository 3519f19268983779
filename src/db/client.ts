import postgres from 'postgres';

export type Sql = postgres.Sql;

/** The pool or a transaction of it: queries that run either way take a `Query`. */
export type Query = Sql | postgres.TransactionSql;

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
    // int8 (counts, ledger sums, identity ids) as JS numbers: credit amounts are bounded far below 2^53,
    // and a number is what every caller wants. Parsing refuses a value that would lose precision.
    types: {
      int8: {
        to: 20,
        from: [20],
        serialize: (value: number | bigint) => value.toString(),
        parse: (value: string) => {
          const parsed = Number(value);
          if (!Number.isSafeInteger(parsed))
            throw new RangeError(`int8 ${value} exceeds Number.MAX_SAFE_INTEGER`);
          return parsed;
        },
      },
    },
  });
}
