import {
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { AutoTopUpPausedReasonKey, AutoTopUpStateKey } from '../purchase/search-attributes';
import { autoTopUp } from './activities';
import { AUTO_TOP_UP_SIGNALS_PER_RUN, type AutoTopUpWorkflowInput, autoTopUpChangedSignal } from './messages';

/**
 * One per customer with an auto top-up, id `auto-top-up:<organizationId>:<customerId>`, started and fed
 * by signal-with-start of `changed`. Idle, it waits for a signal (no timer). Each batch of signals runs
 * one activity, which reads the auto top-up from Postgres (where it is decided), starts the owed top-up
 * purchase if any, and returns the state, mirrored here into `CreditPackAutoTopUpState` and
 * `CreditPackAutoTopUpPausedReason`. After `signalsPerRun` signals (or when Temporal suggests it) the run
 * continues as new, carrying the signals not yet handled; the search attributes carry over.
 */
export async function autoTopUpWorkflow(input: AutoTopUpWorkflowInput): Promise<never> {
  const signalsPerRun = input.signalsPerRun ?? AUTO_TOP_UP_SIGNALS_PER_RUN;
  // A new run (signal-with-start, or continued as new) reads the state once before waiting.
  let pending = Math.max(1, input.pendingSignals ?? 0);
  let received = 0;
  setHandler(autoTopUpChangedSignal, () => {
    pending += 1;
    received += 1;
  });
  for (;;) {
    await condition(() => pending > 0);
    pending = 0;
    const mirror = await autoTopUp.mirrorAutoTopUp({
      organizationId: input.organizationId,
      customerId: input.customerId,
    });
    upsertSearchAttributes([
      { key: AutoTopUpStateKey, value: mirror.state },
      { key: AutoTopUpPausedReasonKey, value: mirror.pausedReason },
    ]);
    if (received >= signalsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      // The search attributes are carried over explicitly: the new run shows the state at once.
      const next = makeContinueAsNewFunc<typeof autoTopUpWorkflow>({
        typedSearchAttributes: workflowInfo().typedSearchAttributes,
      });
      return next({ ...input, pendingSignals: pending });
    }
  }
}
