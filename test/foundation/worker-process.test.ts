import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';
import { diagnosticsWorkflow } from '../../src/workflows';
import { collectOutput } from '../support/child-output';
import { testConfig } from '../support/config';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/**
 * The real worker process (`src/worker.ts`, as `npm start` runs it) against the test stack, on a task
 * queue of its own: its structured logs carry the workflow and activity ids, its metrics answer on
 * loopback, and SIGTERM drains it to a clean exit.
 */
const config = testConfig();
const taskQueue = `worker-process-${randomUUID()}`;
const graceMs = 5_000;
let metricsPort: number;
let worker: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
const lines: Record<string, unknown>[] = [];
const rawOutput: string[] = [];
let connection: Connection;
let client: Client;

beforeAll(async () => {
  metricsPort = await freePort();
  // With its Node flags, as `npm run worker` starts it.
  worker = spawn(
    process.execPath,
    [...WORKER_NODE_FLAGS, '--import', 'tsx', join(PROJECT_ROOT, 'src/worker.ts')],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        STACK_PROFILE: 'test',
        LOG_LEVEL: 'info',
        TEMPORAL_TASK_QUEUE: taskQueue,
        METRICS_PORT: String(metricsPort),
        WORKER_SHUTDOWN_GRACE_MS: String(graceMs),
        // The orphaned-purchase sweep would start other tests' purchases on this task queue.
        RECONCILE_INTERVAL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  exited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })));
  collectOutput(worker, rawOutput, lines);
  connection = await Connection.connect(temporalConnectionOptions(config));
  client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  await waitFor(
    () => lines.some((l) => l.msg === 'worker started') || worker.exitCode !== null,
    'the worker process to start',
    90_000,
  );
  if (worker.exitCode !== null) throw new Error(`the worker exited at start:\n${rawOutput.join('\n')}`);
}, 120_000);

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await connection?.close();
});

describe('the worker process', () => {
  it('started with its Node flags, does not warn about them', () => {
    expect(lines.some((l) => l.msg === 'worker started')).toBe(true);
    expect(lines.filter((l) => String(l.msg).includes('without its Node flags'))).toEqual([]);
  });

  it('logs JSON lines carrying the workflow and activity ids of what it runs', async () => {
    const workflowId = `diagnostics-${randomUUID()}`;
    const result = await client.workflow.execute(diagnosticsWorkflow, {
      workflowId,
      taskQueue,
      workflowExecutionTimeout: '30 seconds',
    });
    expect(result.appliedMigrations).toBeGreaterThan(0);
    const line = await waitFor(
      () => lines.find((l) => l.msg === 'database described' && l.workflowId === workflowId),
      'the activity log line',
      5_000,
    );
    expect(line).toMatchObject({
      level: 30, // info
      service: 'worker',
      workflowId,
      workflowType: 'diagnosticsWorkflow',
      activityType: 'describeDatabase',
      taskQueue,
      appliedMigrations: result.appliedMigrations,
    });
    expect(line.activityId).toEqual(expect.any(String));
    expect(line.workflowRunId).toEqual(expect.any(String));
    expect(line).not.toHaveProperty('taskToken');
  });

  it('serves Prometheus metrics on loopback', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^temporal_\w+/m);
    expect(text).toContain(`task_queue="${taskQueue}"`);
    // The product's own gauge, read from the database at start: purchases whose undo keeps failing.
    expect(text).toMatch(/^(temporal_)?credit_pack_compensations_stuck(\{[^}]*\})? \d+/m);
  });

  it('drains on SIGTERM and exits 0 within the shutdown grace time', async () => {
    const sentAt = Date.now();
    worker.kill('SIGTERM');
    const outcome = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs + 5_000)),
    ]);
    expect(outcome, rawOutput.slice(-20).join('\n')).toEqual({ code: 0, signal: null });
    expect(Date.now() - sentAt).toBeLessThan(graceMs + 5_000);
    expect(lines.some((l) => l.msg === 'worker stopped')).toBe(true);
  });
});
