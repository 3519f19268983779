import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { isAlive, portOpen, readPid, stopProcessGroup } from '../../scripts/stack/processes';
import { LOCAL_DB_USER } from '../../src/config';
import { createSql, type Sql } from '../../src/db/client';
import { testConfig } from '../support/config';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/**
 * `npm start` interrupted while the stack is still starting: everything that start brings up is
 * stopped, and neither the worker nor the portal is spawned. To stay cheap and away from the real
 * stacks it runs with a scratch STACK_DIR, the test stack's Temporal (so no dev server is started), a
 * scratch database on the test cluster, and ports of its own: the one component it starts is the
 * Stripe emulator, and Ctrl-C lands while `up` waits for it to answer.
 */
const config = testConfig();
const scratchDir = mkdtempSync(join(tmpdir(), 'run-product-test-'));
const database = `run_product_${process.pid}_${Date.now()}`;
let admin: Sql;
/** The emulator the interrupted start spawned: stopped here too should the test fail. */
let emulatorPid: number | null = null;

beforeAll(async () => {
  admin = createSql(config.databaseUrl, { maxConnections: 1 });
  await admin.unsafe(`create database ${database}`);
});

afterAll(async () => {
  if (emulatorPid !== null && isAlive(emulatorPid)) await stopProcessGroup(emulatorPid, 2_000);
  await admin?.unsafe(`drop database if exists ${database} with (force)`);
  await admin?.end({ timeout: 5 });
  rmSync(scratchDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('Ctrl-C while the stack is starting stops what that start brought up and spawns no worker or portal', async () => {
    const emulatorPort = await freePort();
    const portalPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts/run-product.ts')], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        STACK_DIR: scratchDir,
        TEMPORAL_ADDRESS: config.temporalAddress,
        DATABASE_URL: `postgres://${LOCAL_DB_USER}@${config.BIND_HOST}:${config.POSTGRES_PORT}/${database}`,
        STRIPE_EMULATOR_PORT: String(emulatorPort),
        PORTAL_PORT: String(portalPort),
        METRICS_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    // The emulator is spawned: its pid file exists while `up` still waits for it to answer.
    const pidFile = join(scratchDir, 'product', 'stripe-emulator', 'pid');
    await waitFor(() => existsSync(pidFile) && readPid(pidFile), 'the emulator to be spawned', 60_000);
    const pid = readPid(pidFile) as number;
    emulatorPid = pid;
    child.kill('SIGINT');

    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 45_000)),
    ]);
    expect(code, output).toBe(0);
    expect(output).toContain('stripe-emulator started');
    expect(output).toContain(`stripe-emulator stopped (pid ${pid})`);
    expect(output).not.toContain('Credit-pack purchase worker is running');
    expect(output).not.toContain('worker started');
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    expect(await portOpen('127.0.0.1', emulatorPort)).toBe(false);
    expect(await portOpen('127.0.0.1', portalPort)).toBe(false);
    // The lock of the scratch stack was released.
    expect(existsSync(join(scratchDir, 'product.lock'))).toBe(false);
    // Nothing of the demo data was loaded: stopping came first.
    const probe = createSql(
      `postgres://${LOCAL_DB_USER}@${config.BIND_HOST}:${config.POSTGRES_PORT}/${database}`,
      { maxConnections: 1 },
    );
    try {
      const [row] = await probe<{ count: number }[]>`select count(*)::int as count from organizations`;
      expect(row?.count).toBe(0);
    } finally {
      await probe.end({ timeout: 5 });
    }
  });
});
