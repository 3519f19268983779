import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowBundle } from '../support/worker';
import { HISTORIES_DIR, historyFromJson, type StoredHistory } from './history-files';

/**
 * The re-reads' doubling interval (`stripeRecheckMaxIntervalMs` in the input, 2026-11-28) changes how
 * long the waits' timers run, never which commands the workflow issues, so it needs no `patched()`:
 * replay matches a recorded timer by its sequence, not its duration. Proven here on a stored run of
 * fixed 1 s re-reads (two timers of 1 s) whose input is given a maximum, as if a worker without the
 * doubling had run a purchase started with it (a rolling deploy): the current code asks for 1 s then
 * 2 s, and the replay still passes. The control: the same run with the re-reads taken out of its input
 * takes another path, and replay refuses it.
 */

const FILE = 'card-added-noticed-by-recheck.2026-11-27-2.json';

/** The stored run with its input changed by `edit`. */
function withInput(edit: (input: Record<string, unknown>) => void) {
  const stored = JSON.parse(readFileSync(path.join(HISTORIES_DIR, FILE), 'utf8')) as StoredHistory & {
    history: {
      events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[];
    };
  };
  const payload = stored.history.events[0]?.workflowExecutionStartedEventAttributes?.input.payloads[0];
  if (!payload) throw new Error(`${FILE}: no input`);
  const input = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as Record<string, unknown>;
  expect(input).toMatchObject({ stripeRecheckIntervalMs: 1_000 });
  expect(input).not.toHaveProperty('stripeRecheckMaxIntervalMs');
  edit(input);
  payload.data = Buffer.from(JSON.stringify(input)).toString('base64');
  return { workflowId: stored.workflowId, history: historyFromJson(stored.history) };
}

/** The durations of a history's timers, as recorded. */
function timerSeconds(history: ReturnType<typeof historyFromJson>): number[] {
  return (history.events ?? []).flatMap((e) => {
    const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? [Number(timeout.seconds ?? 0)] : [];
  });
}

describe("a wait's timer durations", () => {
  let bundle: Awaited<ReturnType<typeof workflowBundle>>;
  beforeAll(async () => {
    bundle = await workflowBundle();
  });

  it('differ from the recorded ones, and the run still replays', async () => {
    const { workflowId, history } = withInput((input) => {
      input.stripeRecheckMaxIntervalMs = 60_000;
    });
    // Recorded: two re-reads 1 s apart; the current code with a maximum waits 1 s, then 2 s.
    expect(timerSeconds(history)).toEqual([1, 1]);
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
  });

  it('the control: the same run without re-reads in its input diverges, and replay says so', async () => {
    const { workflowId, history } = withInput((input) => {
      delete input.stripeRecheckIntervalMs;
    });
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId)).rejects.toThrow(
      DeterminismViolationError,
    );
  });
});
