import { proxyActivities } from '@temporalio/workflow';
import type { DiagnosticsActivities } from '../activities';
import type { DatabaseDescription } from '../activities/diagnostics';

const { describeDatabase } = proxyActivities<DiagnosticsActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * An end-to-end check of a deployment: Temporal → this worker → Postgres and back. Not part of a
 * purchase; the smoke test and operators run it (`npm run purchase -- diagnostics`).
 */
export async function diagnosticsWorkflow(): Promise<DatabaseDescription> {
  return await describeDatabase();
}
