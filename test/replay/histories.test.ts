import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowBundle } from '../support/worker';
import { historyFiles, loadHistory } from './history-files';

/**
 * Every stored history (test/histories, written by `npm run histories:capture`) replays against the
 * current workflow code, under its own workflow id. A change that makes the code issue different
 * commands than a recorded run did (a nondeterminism) fails here, naming the history — before it can
 * fail a running purchase in production. See CONTRIBUTING.md.
 */

const files = historyFiles();

describe('stored workflow histories', () => {
  let bundle: Awaited<ReturnType<typeof workflowBundle>>;
  beforeAll(async () => {
    bundle = await workflowBundle();
  });

  it('are there to replay', () => {
    expect(
      files.length,
      'test/histories holds no histories: run `npm run histories:capture`',
    ).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`${file} replays against the current workflow code`, async () => {
      const { workflowId, history } = loadHistory(file);
      // Throws DeterminismViolationError (or the workflow's own failure) when replay diverges.
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
    });
  }
});
