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

type HistoryEvents = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;

/** The activity types a history scheduled, in order (local activities are markers, not listed). */
export function scheduledActivities(events: HistoryEvents): string[] {
  return events
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((name): name is string => typeof name === 'string');
}

/** The patch ids a history's patch markers carry (each marker's payload is JSON: { id, deprecated }). */
export function patchIdsOf(events: HistoryEvents): string[] {
  return events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .flatMap((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? [])
    .map((payload) => (JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as { id: string }).id);
}
