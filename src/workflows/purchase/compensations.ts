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

  async runAll(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop();
        if (!step) break;
        log.info('compensating', { step: step.name });
        await step.undo();
      }
    });
  }
}
