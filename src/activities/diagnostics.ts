import { log } from '@temporalio/activity';
import type { Sql } from '../db/client';

export interface DatabaseDescription {
  serverVersion: string;
  appliedMigrations: number;
}

/** Read-only checks an operator (or the smoke test) can run through the worker. */
export function createDiagnosticsActivities({ sql }: { sql: Sql }) {
  return {
    async describeDatabase(): Promise<DatabaseDescription> {
      const [row] = await sql<{ serverVersion: string; appliedMigrations: number }[]>`
        select current_setting('server_version') as "serverVersion",
               (select count(*)::int from migrations) as "appliedMigrations"
      `;
      if (!row) throw new Error('the database returned no row for a constant query');
      log.info('database described', { ...row });
      return row;
    },
  };
}
