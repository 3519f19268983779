/**
 * The null purchase's worker process (scripts/bench/main.ts starts it): the product worker's settings
 * (src/temporal/create-worker.ts: slots, cache, shutdown grace, its workflow code's modules preloaded as
 * src/temporal/workflow-bundle.ts does) on the bench's own task queue, with the null workflow and
 * activities. Runs until SIGINT/SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { workflowCacheSizesFor } from '../../src/worker-cache';
import { NULL_TASK_QUEUE, nullActivities } from './null-activities';

const config = loadConfig();
Runtime.install({
  shutdownSignals: ['SIGINT', 'SIGTERM'],
  telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } } },
});
const connection = await NativeConnection.connect(temporalConnectionOptions(config));
const workflowsPath = fileURLToPath(new URL('./null-workflows.ts', import.meta.url));
try {
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: NULL_TASK_QUEUE,
    workflowsPath,
    // As the product worker: its modules evaluated once per thread, not once per workflow.
    bundlerOptions: { preloadModules: [workflowsPath] },
    activities: nullActivities,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: workflowCacheSizesFor(config).purchases,
    shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
  });
  console.log('null worker started');
  await worker.run();
} finally {
  await connection.close();
}
