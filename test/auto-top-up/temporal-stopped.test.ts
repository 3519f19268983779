import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTemporalCli } from '../../scripts/stack/tools';
import type { Config } from '../../src/config';
import { saveAutoTopUp } from '../../src/db/auto-top-up';
import { requestBodyHash } from '../../src/db/idempotency';
import { recordUsage } from '../../src/db/usage';
import { purchaseWorkflowExists, startOrphanedPurchases } from '../../src/purchases';
import { startTopUp, topUpContext } from '../../src/purchases/auto-top-up';
import { purchaseWorkflowId } from '../../src/workflows';
import { customSearchAttributes } from '../../src/workflows/purchase/search-attributes';
import { testConfig } from '../support/config';
import { type PurchaseEnv, purchaseEnv } from '../support/purchase-env';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestTemporal } from '../support/worker';

/**
 * A threshold crossed while Temporal is stopped, for real: a Temporal dev server of this file's own
 * (the shared test stack's is never stopped), persisting to a SQLite file, is stopped between a top-up
 * and the next crossing, and started again. The usage stands, its top-up is recorded and waits; once
 * Temporal is back, the sweep starts it and it completes. The completed top-up from before the stop is
 * still there after the restart.
 */

let env: PurchaseEnv;
let dir: string;
let port: number;
let server: ChildProcess | null = null;
const workers: TestTemporal[] = [];
const quiet = { info: () => {}, error: () => {} };

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const found = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return found;
}

const privateConfig = (): Config => testConfig({ TEMPORAL_PORT: String(port) });

async function startTemporal(): Promise<void> {
  const binary = ensureTemporalCli(testConfig(), () => {});
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--db-filename', join(dir, 'temporal.sqlite'), '--log-level', 'error');
  for (const key of customSearchAttributes) args.push('--search-attribute', `${key.name}=Keyword`);
  server = spawn(binary, args, { stdio: 'ignore' });
  await waitFor(
    async () => {
      try {
        const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        return true;
      } catch {
        return false;
      }
    },
    'the private Temporal to answer',
    60_000,
  );
}

async function stopTemporal(): Promise<void> {
  const running = server;
  server = null;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  running.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  env = await purchaseEnv();
  dir = await mkdtemp(join(tmpdir(), 'auto-top-up-temporal-'));
  port = await freePort();
  await startTemporal();
}, 90_000);

afterAll(async () => {
  for (const worker of workers) await worker.close().catch(() => {});
  await stopTemporal();
  await rm(dir, { recursive: true, force: true });
  await env?.close();
}, 90_000);

describe('Temporal stopped while a threshold is crossed', () => {
  it('the usage stands and records the top-up; once Temporal is back the sweep starts it', async () => {
    const before = await startTestWorker(privateConfig(), env.sql, env.stripe);
    workers.push(before);
    const config = { ...privateConfig(), TEMPORAL_TASK_QUEUE: before.taskQueue };
    const who = await env.shopper({ card: 'pm_card_visa' });
    const ids = { organizationId: who.organizationId, customerId: who.customerId };
    const { topUp: first } = await saveAutoTopUp(
      env.sql,
      ids,
      { enabled: true, thresholdCredits: 100, creditPackId: who.packId, quantity: 1, monthlyLimit: 100_000 },
      { ...topUpContext(), maxQuantity: config.MAX_PURCHASE_QUANTITY },
    );
    expect(await startTopUp({ temporal: before.client, config, log: quiet }, first)).toBe(true);
    const firstResult = await before.client.workflow.getHandle(purchaseWorkflowId(first?.id ?? '')).result();
    expect(firstResult.status).toBe('completed');
    await before.close();
    workers.splice(workers.indexOf(before), 1);

    await stopTemporal();
    const { statusCode, topUp } = await recordUsage(
      env.sql,
      {
        ...ids,
        credits: 450,
        idempotencyKey: `use-${who.customerId}`,
        requestPath: `/v1/customers/${who.customerId}/usage`,
        requestHash: requestBodyHash({ credits: 450 }),
      },
      topUpContext(),
    );
    expect(statusCode).toBe(200);
    expect(topUp).not.toBeNull();
    // The product's client, pointed at the stopped Temporal: the start fails, the answer does not.
    const stopped = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${port}` }) });
    expect(await startTopUp({ temporal: stopped, config, log: quiet }, topUp)).toBe(false);
    const [pending] = await env.sql<
      { status: string }[]
    >`select status from purchases where id = ${topUp?.id ?? ''}`;
    expect(pending?.status).toBe('pending');

    await startTemporal();
    const after = await startTestWorker(privateConfig(), env.sql, env.stripe);
    workers.push(after);
    const afterConfig = { ...privateConfig(), TEMPORAL_TASK_QUEUE: after.taskQueue };
    // What ran before the stop is still there; the top-up recorded meanwhile is not, until the sweep.
    expect(await purchaseWorkflowExists(after.client, first?.id ?? '')).toBe(true);
    expect(await purchaseWorkflowExists(after.client, topUp?.id ?? '')).toBe(false);
    const { started } = await startOrphanedPurchases(
      { sql: env.sql, client: after.client, config: afterConfig },
      { olderThanMs: 0, organizationId: who.organizationId },
    );
    expect(started).toEqual([topUp?.id]);
    const result = await after.client.workflow.getHandle(purchaseWorkflowId(topUp?.id ?? '')).result();
    expect(result.status).toBe('completed');
    expect(await env.balance(who)).toEqual({ purchased: 550, plan: 0 });
  }, 120_000);
});
