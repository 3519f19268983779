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
  const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config));
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const worker = await createWorker({
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
    workflowBundle: await workflowBundle(),
    taskQueue,
  });
  const running = worker.run();
  return {
    client,
    taskQueue,
    worker,
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}
