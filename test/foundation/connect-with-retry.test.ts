import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { ensureTemporalCli } from '../../scripts/stack/tools';
import {
  connectWithRetry,
  PermanentConnectError,
  WORKER_CONNECT_TIMEOUT_MS,
} from '../../src/temporal/connect-with-retry';
import { diagnosticsWorkflow } from '../../src/workflows';
import { collectOutput } from '../support/child-output';
import { testConfig } from '../support/config';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/**
 * A worker's first connection to Temporal (src/temporal/connect-with-retry.ts): retried with backoff
 * while Temporal is not there, bounded, said in the log; and the real worker process started while its
 * Temporal is stopped waits for it instead of exiting, then runs a workflow once it is up.
 */

function fakeClock() {
  let t = 0;
  const waits: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
    waits,
  };
}

describe('connectWithRetry', () => {
  it('retries with doubling pauses up to a cap, and answers once connected', async () => {
    const clock = fakeClock();
    const messages: string[] = [];
    let calls = 0;
    const result = await connectWithRetry(
      async () => {
        calls++;
        if (calls < 6) throw new Error('connect ECONNREFUSED 127.0.0.1:1\nmore detail');
        return 'connected';
      },
      {
        timeoutMs: 60_000,
        what: 'Temporal at 127.0.0.1:1',
        onRetry: (message) => messages.push(message),
        now: clock.now,
        sleep: clock.sleep,
        initialDelayMs: 500,
        maxDelayMs: 4_000,
      },
    );
    expect(result).toEqual({ value: 'connected', attempts: 6 });
    expect(clock.waits).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    expect(messages[0]).toBe(
      'Temporal at 127.0.0.1:1 is not reachable yet (attempt 1: connect ECONNREFUSED 127.0.0.1:1); retrying in 0.5 s, giving up in 60 s',
    );
  });

  it('gives up at its bound with the last error, saying how long it waited', async () => {
    const clock = fakeClock();
    const attempt = connectWithRetry(
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      { timeoutMs: 10_000, what: 'Temporal at 127.0.0.1:1', onRetry: () => {}, ...clock },
    );
    await expect(attempt).rejects.toThrow(
      /^Temporal at 127\.0\.0\.1:1 was not reachable within 10 s \(\d+ attempts\): connect ECONNREFUSED/,
    );
    // The last pause is cut to the time left: no attempt after the bound.
    expect(clock.waits.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('does not retry a permanent refusal (a refused certificate), nor anything with a bound of 0', async () => {
    const refused = new Error(
      'Temporal at x refused the TLS connection: the server refused the client certificate',
    );
    let calls = 0;
    await expect(
      connectWithRetry(
        async () => {
          calls++;
          throw new PermanentConnectError(refused);
        },
        { timeoutMs: 60_000, what: 'Temporal', onRetry: () => {}, ...fakeClock() },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    const plain = new Error('connect ECONNREFUSED');
    await expect(
      connectWithRetry(
        async () => {
          throw plain;
        },
        { timeoutMs: 0, what: 'Temporal', onRetry: () => {}, ...fakeClock() },
      ),
    ).rejects.toBe(plain);
  });
});

describe('the worker process started while Temporal is stopped', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('waits for Temporal, saying so, and runs workflows once Temporal is up', {
    timeout: 120_000,
  }, async () => {
    // A Temporal of the test's own (a dev server in memory), on a port where nothing listens yet: the
    // worker starts first, as after a crash while Temporal restarts.
    const port = await freePort();
    const uiPort = await freePort();
    const address = `127.0.0.1:${port}`;
    const taskQueue = `connect-retry-${randomUUID()}`;
    const env = {
      ...process.env,
      STACK_PROFILE: 'test',
      LOG_LEVEL: 'info',
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      EVENT_DELIVERY_TASK_QUEUE: `${taskQueue}-deliveries`,
      METRICS_PORT: '0',
      // Nothing of the shared test database is swept or dispatched to this Temporal.
      RECONCILE_INTERVAL_MS: '0',
      EVENT_DISPATCH_INTERVAL_MS: '0',
    };
    const lines: { msg?: string; attempt?: number }[] = [];
    const output: string[] = [];
    const worker = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src/worker.ts')], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(worker);
    collectOutput(worker, output, lines);

    // Three failed attempts logged (0.5 s, 1 s, 2 s apart), and the worker still alive.
    await waitFor(
      () =>
        lines.filter((l) => l.msg?.startsWith('waiting for Temporal:')).length >= 3 ||
        worker.exitCode !== null,
      'the worker to log its retries',
      60_000,
    );
    expect(worker.exitCode, output.join('\n')).toBeNull();
    const first = lines.find((l) => l.msg?.startsWith('waiting for Temporal:'));
    expect(first?.msg).toMatch(
      new RegExp(
        `^waiting for Temporal: Temporal at ${address.replace(/\./g, '\\.')} is not reachable yet \\(attempt 1: .+\\); retrying in 0\\.5 s, giving up in (60|59) s$`,
      ),
    );
    expect(lines.some((l) => l.msg === 'worker started')).toBe(false);

    // Temporal comes up on that port: the worker connects by itself and polls.
    const cli = ensureTemporalCli(testConfig(), () => {});
    const temporal = spawn(
      cli,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    children.push(temporal);
    await waitFor(
      () => lines.some((l) => l.msg === 'worker started') || worker.exitCode !== null,
      'the worker to start once Temporal is up',
      60_000,
    );
    expect(worker.exitCode, output.join('\n')).toBeNull();
    expect(lines.some((l) => l.msg?.startsWith('connected to Temporal after'))).toBe(true);

    const connection = await Connection.connect({ address });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const result = await client.workflow.execute(diagnosticsWorkflow, {
        workflowId: `connect-retry-${randomUUID()}`,
        taskQueue,
        workflowExecutionTimeout: '30s',
      });
      expect(result.appliedMigrations).toBeGreaterThan(0);
    } finally {
      await connection.close();
    }
    worker.kill('SIGTERM');
    temporal.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
  });

  it('bounds the wait at 60 s by default', () => {
    expect(WORKER_CONNECT_TIMEOUT_MS).toBe(60_000);
  });
});
