import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type Logger, type WorkerOptions } from '@temporalio/worker';

/** The workflow bundle's entry point: every workflow type the worker registers. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * The workflow code's modules are evaluated once per worker thread and shared by every workflow in it,
 * instead of once per workflow (issue 16, the parked purchase's memory).
 *
 * With `reuseV8Context` (the SDK's default, kept) the SDK shares only its own modules between
 * workflows; every module a workflow imports beyond them (the workflow types, their messages,
 * activity proxies, search attribute keys, `src/domain`'s ids and statuses, the failure names: 19 of
 * ours) is evaluated again for each workflow and kept as long as it is cached: 36 of the 97 KB of V8
 * heap a parked purchase held (docs/benchmarks.md). Preloading the entry point shares the whole
 * graph. That is safe only because these modules keep no state of their own: their top level defines
 * constants, functions, classes and activity proxies (which look up the running workflow at call
 * time), never a `let`, a mutable collection or a call that needs a workflow. test/foundation/shared-workflow-modules.test.ts enforces that rule on every
 * module of ours in the bundle; the SDK also freezes what a preloaded module exports, so a module that
 * tried to change its exports at run time would throw instead of leaking between workflows.
 */
export const workflowBundlerOptions: NonNullable<WorkerOptions['bundlerOptions']> = {
  preloadModules: [WORKFLOWS_PATH],
};

/** The workflow bundle the worker runs, its entry preloaded (built once per process: webpack takes seconds). */
export function bundleWorkflows({
  logger,
  workflowsPath = WORKFLOWS_PATH,
}: {
  logger?: Logger;
  /** Another tree's workflow code (the replay script's `--workflows-path`): preloaded as the worker would. */
  workflowsPath?: string;
}) {
  return bundleWorkflowCode({
    workflowsPath,
    ...(logger ? { logger } : {}),
    preloadModules: [workflowsPath],
  });
}
