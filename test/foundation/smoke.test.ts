import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { diagnosticsWorkflow } from '../../src/workflows';
import { testConfig } from '../support/config';
import { startTestWorker, type TestTemporal } from '../support/worker';

const config = testConfig();
let sql: Sql;
let temporal: TestTemporal;

beforeAll(async () => {
  sql = createSql(config.databaseUrl);
  temporal = await startTestWorker(config, sql);
});

afterAll(async () => {
  await temporal?.close();
  await sql?.end({ timeout: 5 });
});

describe('the worker on the real dev server', () => {
  it('runs a workflow whose activity reads the real database', async () => {
    const workflowId = `diagnostics-${randomUUID()}`;
    const result = await temporal.client.workflow.execute(diagnosticsWorkflow, {
      workflowId,
      taskQueue: temporal.taskQueue,
      workflowExecutionTimeout: '30 seconds',
    });
    const [expected] = await sql<{ count: number }[]>`select count(*)::int as count from migrations`;
    expect(result.serverVersion).toMatch(/^15\.|^1[6-9]\./);
    expect(result.appliedMigrations).toBe(expected?.count);
    expect(result.appliedMigrations).toBeGreaterThan(0);

    // The history is on the server: the activity really ran through Temporal, not in-process.
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual([
      'describeDatabase',
    ]);
  });

  it('has the purchase search attributes registered', async () => {
    const { customAttributes: keys } = await temporal.client.connection.operatorService.listSearchAttributes({
      namespace: config.TEMPORAL_NAMESPACE,
    });
    expect(Object.keys(keys ?? {}).length).toBeGreaterThan(0);
    for (const name of [
      'CreditPackOrganizationId',
      'CreditPackCustomerId',
      'CreditPackId',
      'CreditPackPurchaseStatus',
    ]) {
      expect(keys?.[name]).toBeDefined();
    }
  });
});
