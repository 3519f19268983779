import { Context } from '@temporalio/activity';

/** The workflow run this activity works for: the purchase's claim (00007_purchase_claim) is by run. */
export function currentRunId(): string {
  const runId = Context.current().info.workflowExecution?.runId;
  if (!runId) throw new Error('activity started without a workflow run id');
  return runId;
}
