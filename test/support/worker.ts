import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type Stripe from 'stripe';
import { type Activities, createActivities } from '../../src/activities';
import type { Config } from '../../src/config';
import type { Sql } from '../../src/db/client';
import { purchaseStarter } from '../../src/purchases';
import { createStripe } from '../../src/stripe/client';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/create-worker';
import { bundleWorkflows } from '../../src/temporal/workflow-bundle';
import { StepTimer } from './slow-steps';

// Test output stays readable: the SDK logs warnings and errors only (once per test process).
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed in this process
}

let bundle: ReturnType<typeof bundleWorkflows> | undefined;

/** The worker's workflow bundle (its modules preloaded), built once per test file. */
export function workflowBundle() {
  bundle ??= bundleWorkflows({ logger: silentLogger });
  return bundle;
}

const noop = () => {};
const silentLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

export interface TestTemporal {
  client: Client;
  taskQueue: string;
  worker: Worker;
  close(): Promise<void>;
}

/**
 * A real worker, made by the project's own `createWorker`, on a task queue unique to the caller so
 * test files running in parallel never pick up each other's workflows. `activityOverrides` inject a
 * fault at the activity boundary (the real activity, its answer replaced): never a stub of Postgres,
 * Temporal or Stripe.
 */
export async function startTestWorker(
  config: Config,
  sql: Sql,
  stripe?: Stripe,
  /** Activities replaced by a fault of the test's making (the rest are the real ones). */
  activityOverrides: Partial<Activities> = {},
): Promise<TestTemporal> {
  const taskQueue = `test-${randomUUID()}`;
  const timer = new StepTimer(`starting the test worker of task queue ${taskQueue}`);
  const nativeConnection = await timer.step('connect the worker', () =>
    NativeConnection.connect(temporalConnectionOptions(config)),
  );
  const connection = await timer.step('connect the client', () =>
    Connection.connect(temporalConnectionOptions(config)),
  );
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const bundle = await timer.step('bundle the workflows', () => workflowBundle());
  const worker = await timer.step('create the worker', () =>
    createWorker({
      config,
      connection: nativeConnection,
      activities: {
        ...createActivities({
          config,
          sql,
          stripe: stripe ?? createStripe(config),
          // The auto top-up workflow starts owed top-ups on this worker's task queue.
          startPurchase: purchaseStarter(client, { ...config, TEMPORAL_TASK_QUEUE: taskQueue }),
        }),
        ...activityOverrides,
      },
      workflowBundle: bundle,
      taskQueue,
    }),
  );
  timer.report();
  const running = worker.run();
  return {
    client,
    taskQueue,
    worker,
    async close() {
      const closing = new StepTimer(`stopping the test worker of task queue ${taskQueue}`);
      worker.shutdown();
      await closing.step('let the worker drain', () => running);
      await closing.step('close the connections', async () => {
        await connection.close();
        await nativeConnection.close();
      });
      closing.report();
    },
  };
}
