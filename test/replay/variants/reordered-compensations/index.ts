/**
 * A deliberately INCOMPATIBLE variant of the workflow bundle (test/replay/breakage.test.ts): the real
 * workflows, except that the saga's compensations run OLDEST first instead of newest first (the refund
 * before the cancel of the PaymentIntent registered after it). A stored run whose failure undid two
 * steps must fail to replay; runs that undid one step, or none, replay unchanged. Not a production code
 * path; src/workflows is untouched.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { Compensations } from '../../../../src/workflows/purchase/compensations';

export * from '../../../../src/workflows';

type Step = { name: string; undo: () => Promise<void> };

Compensations.prototype.runAll = async function runAllOldestFirst(this: Compensations): Promise<void> {
  const steps = (this as unknown as { steps: Step[] }).steps;
  await CancellationScope.nonCancellable(async () => {
    for (let step = steps[0]; step !== undefined; step = steps[0]) {
      log.info('compensating', { step: step.name });
      await step.undo();
      steps.shift();
    }
  });
};
