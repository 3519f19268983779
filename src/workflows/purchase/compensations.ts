import { CancellationScope, log } from '@temporalio/workflow';

/**
 * The saga's undo list (as in temporalio/samples-typescript's saga sample): each step that leaves
 * something to undo pushes its compensation; on a failure after it, they run newest first, in a
 * non-cancellable scope, so an operator's cancellation cannot interrupt a refund halfway. Every
 * compensation is itself safe to run when there is nothing to undo.
 */
export class Compensations {
  private readonly steps: { name: string; undo: () => Promise<void> }[] = [];

  add(name: string, undo: () => Promise<void>): void {
    this.steps.push({ name, undo });
  }

  /** Drops a compensation that no longer applies (e.g. the SetupIntent it would cancel succeeded). */
  remove(name: string): void {
    const index = this.steps.findIndex((step) => step.name === name);
    if (index >= 0) this.steps.splice(index, 1);
  }

  has(name: string): boolean {
    return this.steps.some((step) => step.name === name);
  }

  /**
   * Runs the outstanding compensations, newest first. A step leaves the list only once its undo
   * succeeded: if one fails for good, it stays listed and the error propagates, so the purchase is
   * never reported settled while money it took is still outstanding.
   */
  async runAll(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      for (let step = this.steps.at(-1); step !== undefined; step = this.steps.at(-1)) {
        log.info('compensating', { step: step.name });
        await step.undo();
        this.steps.pop();
      }
    });
  }
}
