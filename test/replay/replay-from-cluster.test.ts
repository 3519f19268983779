import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';

/**
 * `npm run histories:replay-from-cluster` against the test dev server: a purchase that just ran is
 * pulled back with its visibility query and replayed, against the current code (passes) and against
 * the incompatible variant (fails, non-zero exit); a query matching nothing is an error too.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

async function replayFromCluster(args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(tsx, ['scripts/replay-from-cluster.ts', ...args], {
      cwd: root,
      env: { ...process.env, STACK_PROFILE: 'test' },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

let env: PurchaseEnv;
let workflowId: string;
let query: string;
beforeAll(async () => {
  env = await purchaseEnv();
  const { handle } = await env.buy(await env.shopper({ card: 'pm_card_visa' }));
  expect((await handle.result()).status).toBe('completed');
  workflowId = handle.workflowId;
  query = `WorkflowType='purchaseWorkflow' AND WorkflowId='${workflowId}'`;
  // Visibility is eventually consistent: wait until the list the command uses sees the execution.
  await waitFor(async () => {
    for await (const execution of env.temporal.client.workflow.list({ query })) {
      if (execution.workflowId === workflowId) return true;
    }
    return false;
  }, 'the purchase to be listed by its visibility query');
});
afterAll(() => env?.close());

describe('npm run histories:replay-from-cluster', () => {
  const address = () => [
    '--address',
    env.config.temporalAddress,
    '--namespace',
    env.config.TEMPORAL_NAMESPACE,
  ];

  it('replays what the query lists against the current code and exits 0', async () => {
    const { code, output } = await replayFromCluster([...address(), '--query', query, '--limit', '5']);
    expect(output).toContain(`ok   ${workflowId}`);
    expect(output).toContain('1 replayed, 1 ok, 0 failed');
    expect(code).toBe(0);
  });

  it('exits 1 naming the execution when the code cannot replay it', async () => {
    const { code, output } = await replayFromCluster([
      ...address(),
      '--query',
      query,
      '--workflows-path',
      'test/replay/variants/incompatible/index.ts',
    ]);
    expect(output).toMatch(new RegExp(`FAIL ${workflowId} \\S+: DeterminismViolationError`));
    expect(code).toBe(1);
  });

  it('exits 3 when nothing matches (an empty check is not a pass)', async () => {
    const { code, output } = await replayFromCluster([
      ...address(),
      '--query',
      "WorkflowId='no-such-workflow'",
    ]);
    expect(output).toContain('no execution matched');
    expect(code).toBe(3);
  });
});
