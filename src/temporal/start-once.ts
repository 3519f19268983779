import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';

/**
 * Starts a workflow whose id is derived from a business key (a purchase, a refund, an event and an
 * endpoint), once, ever: `USE_EXISTING` makes a second start while it runs find the running one
 * (`started: true` then too), and `REJECT_DUPLICATE` refuses a second run after it closed
 * (`started: false`), so a retried request, a sweep and a crashed caller's retry never run it twice.
 */
export async function startWorkflowOnce<T extends Workflow>(
  client: Client,
  workflow: T,
  options: Omit<WorkflowStartOptions<T>, 'workflowIdReusePolicy' | 'workflowIdConflictPolicy'>,
): Promise<{ started: boolean }> {
  try {
    await client.workflow.start(workflow, {
      ...options,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    } as WorkflowStartOptions<T>);
    return { started: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { started: false };
    throw error;
  }
}
