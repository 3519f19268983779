import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purchaseWorkflowId } from '../../src/workflows';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';

/** The operators' command line (`npm run purchase -- …`, src/starter.ts) on the real stack. */

let env: PurchaseEnv;
beforeAll(async () => {
  env = await purchaseEnv();
});
afterAll(() => env?.close());

const run = promisify(execFile);

/** Runs the CLI as `npm run purchase` does, against the test stack and this file's worker. */
function purchaseCli(args: string[]) {
  return run('npx', ['tsx', 'src/starter.ts', ...args], {
    env: { ...process.env, STACK_PROFILE: 'test', TEMPORAL_TASK_QUEUE: env.temporal.taskQueue },
    timeout: 60_000,
  }).then(
    (out) => ({ code: 0, stdout: out.stdout, stderr: out.stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('npm run purchase', () => {
  it('buy records and starts a purchase (the same key finds it again); show reads the row and the workflow', async () => {
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const key = `cli-${shopper.customerId}`;
    const args = ['buy', shopper.organizationId, shopper.customerId, shopper.packId, '2', key];
    const bought = await purchaseCli(args);
    expect(bought.code).toBe(0);
    const first = JSON.parse(bought.stdout);
    expect(first).toMatchObject({ created: true, purchase: { quantity: 2, credits: 1000, price: 8000 } });
    const purchaseId = first.purchase.id as string;

    const handle = env.temporal.client.workflow.getHandle(purchaseWorkflowId(purchaseId));
    expect((await handle.result()).status).toBe('completed');
    const again = JSON.parse((await purchaseCli(args)).stdout);
    expect(again).toMatchObject({ created: false, purchase: { id: purchaseId, status: 'completed' } });

    const shown = await purchaseCli(['show', purchaseId]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      purchase: { id: purchaseId, status: 'completed' },
      workflow: { purchaseId, status: 'completed', failure: null },
    });
    expect(await env.balance(shopper)).toEqual({ purchased: 1000, plan: 0 });
  });

  it('answers misuse clearly: unknown purchase (1), bad usage (2), a refused checkout (1, its message)', async () => {
    const missing = await purchaseCli(['show', 'pur_doesNotExist0000']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'no purchase pur_doesNotExist0000']);
    const usage = await purchaseCli(['refund-everything']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run purchase -- <command>');
    const shopper = await env.shopper({ card: 'pm_card_visa' });
    const tooMany = await purchaseCli([
      'buy',
      shopper.organizationId,
      shopper.customerId,
      shopper.packId,
      '99',
    ]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toContain('Quantity must be a whole number from 1 to 10');
  });
});
