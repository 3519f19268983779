/**
 * `npx tsx scripts/bench/count-actions.ts [file.json …]`: per stored history (test/histories/*.json by
 * default), the events, workflow tasks, activities (and their retries), timers, signals and search
 * attribute upserts, and the billable actions they make under the counting docs/scaling.md assumes
 * (Temporal Cloud's rules, from memory: a workflow started, each activity attempt, each timer, each
 * signal received, each upsert; workflow tasks and the history reads are not actions). An upsert of
 * TemporalChangeVersion alone, which the SDK adds to each patch's marker, is not counted as an upsert:
 * Temporal Cloud's actions page exempts that attribute. Patch markers are counted with the markers.
 * Prints a Markdown table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PROJECT_ROOT } from '../stack/paths';

interface HistoryEvent {
  eventType: string;
  activityTaskStartedEventAttributes?: { attempt?: number };
  upsertWorkflowSearchAttributesEventAttributes?: {
    searchAttributes?: { indexedFields?: Record<string, unknown> };
  };
}

/** The SDK's own upsert with a patch marker (`patched()`), not the workflow's. */
const isChangeVersionUpsert = (e: HistoryEvent) => {
  const fields = Object.keys(
    e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
  );
  return fields.length === 1 && fields[0] === 'TemporalChangeVersion';
};

interface ActionCount {
  flow: string;
  events: number;
  workflowTasks: number;
  activities: number;
  activityRetries: number;
  timers: number;
  signals: number;
  upserts: number;
  /** Workflow started + activity attempts + timers + signals + upserts (+ continue-as-new, child starts). */
  actions: number;
}

function countActions(flow: string, events: HistoryEvent[]): ActionCount {
  const n = (type: string) => events.filter((e) => e.eventType === `EVENT_TYPE_${type}`).length;
  // A history keeps only an activity's last attempt: the attempts before it are retries.
  const activityRetries = events
    .filter((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_STARTED')
    .reduce((sum, e) => sum + Math.max(0, (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1), 0);
  const activities = n('ACTIVITY_TASK_SCHEDULED');
  const timers = n('TIMER_STARTED');
  const signals = n('WORKFLOW_EXECUTION_SIGNALED');
  const upserts = events.filter(
    (e) => e.eventType === 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES' && !isChangeVersionUpsert(e),
  ).length;
  const others =
    n('WORKFLOW_EXECUTION_CONTINUED_AS_NEW') +
    n('START_CHILD_WORKFLOW_EXECUTION_INITIATED') +
    n('SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED') +
    n('MARKER_RECORDED');
  return {
    flow,
    events: events.length,
    workflowTasks: n('WORKFLOW_TASK_COMPLETED'),
    activities,
    activityRetries,
    timers,
    signals,
    upserts,
    actions:
      n('WORKFLOW_EXECUTION_STARTED') + activities + activityRetries + timers + signals + upserts + others,
  };
}

function main(): void {
  const dir = join(PROJECT_ROOT, 'test', 'histories');
  const files =
    process.argv.length > 2
      ? process.argv.slice(2)
      : readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(dir, f));
  console.log(
    '| history | events | workflow tasks | activities | retries | timers | signals | upserts | actions |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const file of files) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { history: { events: HistoryEvent[] } };
    const c = countActions(basename(file, '.json'), stored.history.events);
    console.log(
      `| ${c.flow} | ${c.events} | ${c.workflowTasks} | ${c.activities} | ${c.activityRetries} | ${c.timers} | ${c.signals} | ${c.upserts} | ${c.actions} |`,
    );
  }
}

main();
