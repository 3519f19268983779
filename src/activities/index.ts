import type { Config } from '../config';
import type { Sql } from '../db/client';
import { createDiagnosticsActivities } from './diagnostics';

/** The clients every activity gets from the worker (tests pass their own, pointed at the test stack). */
export interface ActivityDeps {
  config: Config;
  sql: Sql;
}

/**
 * Builds every activity the worker registers. Workflows type their proxies with
 * `import type { Activities }`, so activity code never enters the workflow bundle.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
