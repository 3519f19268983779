import { log } from '@temporalio/activity';
import type { Sql } from '../db/client';
import { type DatabaseDescription, describeDatabase } from '../db/health';

export type { DatabaseDescription } from '../db/health';

/** Read-only checks an operator (or the smoke test) can run through the worker. */
export function createDiagnosticsActivities({ sql }: { sql: Sql }) {
  return {
    async describeDatabase(): Promise<DatabaseDescription> {
      const description = await describeDatabase(sql);
      log.info('database described', { ...description });
      return description;
    },
  };
}
