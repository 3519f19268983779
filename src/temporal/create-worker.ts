import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Activities } from '../activities';
import type { Config } from '../config';
import { workflowCacheSizesFor } from '../worker-cache';
import { WORKFLOWS_PATH, workflowBundlerOptions } from './workflow-bundle';

export interface CreateWorkerOptions {
  config: Config;
  connection: NativeConnection;
  activities: Activities;
  /** A pre-built bundle (`bundleWorkflows`; tests build it once per file), else WORKFLOWS_PATH is bundled. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
  /** The sticky cache's size; otherwise WORKER_MAX_CACHED_WORKFLOWS or sized from memory (src/worker-cache.ts). */
  maxCachedWorkflows?: number;
}

/**
 * The one way a worker is made, in production and in tests: explicit slot and cache limits and a
 * non-zero shutdown grace time, so SIGTERM lets running activities finish (or heartbeat-cancel).
 */
export function createWorker({
  config,
  connection,
  activities,
  workflowBundle,
  taskQueue,
  maxCachedWorkflows,
}: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: taskQueue ?? config.TEMPORAL_TASK_QUEUE,
    ...(workflowBundle
      ? { workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: workflowBundlerOptions }),
    activities,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: maxCachedWorkflows ?? workflowCacheSizesFor(config).purchases,
    shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
  });
}
