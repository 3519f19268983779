import type { WorkflowHandle } from '@temporalio/client';
import { waitFor } from './wait';

/**
 * Waits until the workflow has run an activity of this type `times` times (scheduled and completed,
 * as its history shows): how a test knows the workflow has looked before asserting it did not act.
 */
export async function activityRan(
  handle: WorkflowHandle,
  activityType: string,
  { times = 1, timeoutMs = 15_000 }: { times?: number; timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(
    async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType,
      ).length;
      const done = events.filter((e) => e.activityTaskCompletedEventAttributes).length;
      return scheduled >= times && done >= scheduled;
    },
    `${activityType} to have run`,
    timeoutMs,
  );
}
