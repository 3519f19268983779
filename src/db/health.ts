import type { Query, Sql } from './client';

/** The database's side of readiness and diagnostics. */

/** Resolves when the database answers a query (the portal's /readyz probe). */
export async function pingDatabase(sql: Sql): Promise<void> {
  await sql`select 1`;
}

export interface DatabaseDescription {
  serverVersion: string;
  appliedMigrations: number;
}

/** The server's version and how many migrations are applied (operators' diagnostics). */
export async function describeDatabase(sql: Sql): Promise<DatabaseDescription> {
  const [row] = await sql<DatabaseDescription[]>`
    select current_setting('server_version') as "serverVersion",
           (select count(*)::int from migrations) as "appliedMigrations"`;
  if (!row) throw new Error('the database returned no row for a constant query');
  return row;
}

/** The database's clock (ages compare like with like against timestamps it wrote). */
export async function databaseNow(sql: Query): Promise<Date> {
  const [clock] = await sql<{ now: Date }[]>`select now() as "now"`;
  if (!clock) throw new Error('the database returned no row for select now()');
  return clock.now;
}
