import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Component } from '../../scripts/stack/component';
import { managedProcess } from '../../scripts/stack/managed-process';
import {
  ephemeralPortRange,
  isAlive,
  portOpen,
  processIdentity,
  spawnDetached,
  stopProcessGroup,
  verifiedPid,
} from '../../scripts/stack/processes';
import { StackError, stackDown, stackStatus, stackUp } from '../../scripts/stack/stack';
import { stripeEmulator, stripeMock } from '../../scripts/stack/stripe';
import { temporal } from '../../scripts/stack/temporal';
import { ensurePostgresBin, ensureTemporalCli, findPostgresBin } from '../../scripts/stack/tools';
import { testConfig } from '../support/config';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

let squatter: Server;
let squatterPort: number;
const scratchDir = mkdtempSync(join(tmpdir(), 'stack-test-'));
const strays: ChildProcess[] = [];

/** A scratch configuration: its own STACK_DIR and ports no real stack uses. */
async function scratchConfig(overrides: NodeJS.ProcessEnv = {}) {
  return testConfig({
    STACK_DIR: scratchDir,
    POSTGRES_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    STRIPE_EMULATOR_PORT: String(await freePort()),
    STRIPE_MOCK_PORT: String(await freePort()),
    ...overrides,
  });
}

/** An unrelated long-lived process, detached like a component, so it even leads its own group. */
function unrelatedProcess(): number {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  strays.push(child);
  if (child.pid === undefined) throw new Error('could not spawn sleep');
  return child.pid;
}

beforeAll(async () => {
  // Something that is not ours, holding a port.
  squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  squatterPort = (squatter.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  for (const child of strays) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratchDir, { recursive: true, force: true });
});

describe('the stack manager', () => {
  it('`up` on a running stack is a no-op: it starts nothing and reports every component running', async () => {
    const lines: string[] = [];
    const started = await stackUp(testConfig(), (line) => lines.push(line));
    expect(started).toEqual([]);
    expect(lines.filter((l) => l.endsWith('already running')).length).toBeGreaterThanOrEqual(3);
    const status = await stackStatus(testConfig());
    expect(status.filter((row) => row.state === 'running').map((row) => row.name)).toEqual(
      expect.arrayContaining(['postgres', 'temporal', 'stripe-emulator', 'stripe-mock']),
    );
  });

  it('refuses, with a message naming the port and the variable, a port held by another process', async () => {
    const config = testConfig({ STACK_DIR: scratchDir, POSTGRES_PORT: String(squatterPort) });
    const failure = await stackUp(config, () => {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StackError);
    expect((failure as Error).message).toContain(`127.0.0.1:${squatterPort} is taken by another process`);
    expect((failure as Error).message).toContain('POSTGRES_PORT');
    // It reports the port as held by someone else, and started nothing of its own.
    const status = await stackStatus(config);
    expect(status.find((row) => row.name === 'postgres')?.state).toBe('external');
    expect(existsSync(join(scratchDir, 'test', 'temporal', 'pid'))).toBe(false);
    expect(existsSync(join(scratchDir, 'test', 'postgres', 'data'))).toBe(false);
  });

  it.each<[string, Component, string]>([
    ['Temporal gRPC', temporal, 'TEMPORAL_PORT'],
    ['Temporal UI', temporal, 'TEMPORAL_UI_PORT'],
    ['Stripe emulator', stripeEmulator, 'STRIPE_EMULATOR_PORT'],
    ['stripe-mock', stripeMock, 'STRIPE_MOCK_PORT'],
  ])('names the variable to change when the %s port is taken (%s)', async (_, component, variable) => {
    const config = await scratchConfig({ [variable]: String(squatterPort) });
    const failure = await component.up(config, () => {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StackError);
    expect((failure as Error).message).toContain(
      `${component.name}: port 127.0.0.1:${squatterPort} is taken by another process`,
    );
    expect((failure as Error).message).toContain(`set ${variable} to a free port`);
    expect(existsSync(join(scratchDir, 'test', component.name, 'pid'))).toBe(false);
    expect((await component.status(config)).state).toBe('external');
  });
});

describe('a component that exits while starting', () => {
  /** A component whose process listens on `port` (as the Temporal server does on its fixed ports). */
  const listener = (port: number) =>
    managedProcess({
      name: 'listener',
      enabled: () => true,
      host: () => '127.0.0.1',
      ports: () => [{ port, variable: 'LISTENER_PORT' }],
      command: () => ({
        command: process.execPath,
        args: ['-e', `require('node:net').createServer().listen(${port}, '127.0.0.1')`],
      }),
      ready: () => portOpen('127.0.0.1', port),
      readyTimeoutMs: 10_000,
      urls: () => ({}),
    });

  it('quotes its log, and for a port an outgoing connection holds, says the ephemeral range is the cause', async () => {
    // An outgoing connection's local port: nothing listens on it, so the check before the start
    // passes, yet no one can bind it while the connection lives.
    const server = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    await new Promise<void>((resolve) => client.once('connect', resolve));
    const heldPort = client.localPort as number;
    try {
      const config = await scratchConfig();
      const failure = await listener(heldPort)
        .up(config, () => {})
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StackError);
      const message = (failure as Error).message;
      expect(message).toContain('listener exited while starting');
      expect(message).toContain(`EADDRINUSE: address already in use 127.0.0.1:${heldPort}`);
      const range = ephemeralPortRange();
      expect(range).not.toBeNull();
      expect(message).toContain(
        `in this machine's ephemeral port range ${range?.first}-${range?.last}, where any outgoing connection may hold a port: ${heldPort} (LISTENER_PORT); choose ports below ${range?.first}`,
      );
      expect(existsSync(join(scratchDir, 'test', 'listener', 'pid'))).toBe(false);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('without a bind failure quotes only its log', async () => {
    const config = await scratchConfig();
    const failing = managedProcess({
      name: 'failing',
      enabled: () => true,
      host: () => '127.0.0.1',
      ports: () => [],
      command: () => ({
        command: process.execPath,
        args: ['-e', "console.error('no configuration found'); process.exit(3)"],
      }),
      ready: async () => false,
      readyTimeoutMs: 10_000,
      urls: () => ({}),
    });
    const failure = await failing.up(config, () => {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StackError);
    expect((failure as Error).message).toMatch(
      /failing exited while starting; see .*; its last lines:\n {2}no configuration found$/,
    );
  });
});

describe('pid files', () => {
  it('record how to recognise the process, and a process started by the stack is recognised', async () => {
    const dir = join(scratchDir, 'spawned');
    mkdirSync(dir, { recursive: true });
    const pidFile = join(dir, 'pid');
    const pid = spawnDetached({ command: 'sleep', args: ['300'], logFile: join(dir, 'log'), pidFile });
    try {
      const identity = processIdentity(pid);
      expect(identity).not.toBeNull();
      expect(readFileSync(pidFile, 'utf8')).toBe(
        `${pid}\nstart=${identity?.startTicks}\nboot=${identity?.bootId}\n`,
      );
      expect(verifiedPid(pidFile)).toBe(pid);
    } finally {
      await stopProcessGroup(pid, 2_000);
    }
    await waitFor(() => !isAlive(pid), 'the spawned sleep to stop', 5_000);
    expect(verifiedPid(pidFile)).toBeNull();
  });

  it('naming a live process that is not the one recorded (pid reused, reboot) are stale: `down` leaves it alone', async () => {
    const config = await scratchConfig();
    const pid = unrelatedProcess();
    const actual = processIdentity(pid);
    const pidFile = join(scratchDir, 'test', 'temporal', 'pid');
    mkdirSync(join(scratchDir, 'test', 'temporal'), { recursive: true });
    // The right boot, another start time: what a reused pid looks like.
    writeFileSync(pidFile, `${pid}\nstart=${Number(actual?.startTicks) - 1}\nboot=${actual?.bootId}\n`);
    expect(verifiedPid(pidFile)).toBeNull();
    expect((await stackStatus(config)).find((row) => row.name === 'temporal')?.state).toBe('stopped');

    await stackDown(config, () => {});
    expect(isAlive(pid)).toBe(true);
    expect(existsSync(pidFile)).toBe(false);

    // The same process after a reboot: another boot id.
    writeFileSync(
      pidFile,
      `${pid}\nstart=${actual?.startTicks}\nboot=00000000-0000-0000-0000-000000000000\n`,
    );
    expect(verifiedPid(pidFile)).toBeNull();
    await stackDown(config, () => {});
    expect(isAlive(pid)).toBe(true);
  });

  it('with a bare pid (older format) are trusted only for a group leader started before the file was written', async () => {
    const pidFile = join(scratchDir, 'bare-pid');
    // This test process: alive and older than the file, but not a process-group leader.
    writeFileSync(pidFile, `${process.pid}\n`);
    expect(verifiedPid(pidFile)).toBeNull();

    const pid = unrelatedProcess();
    writeFileSync(pidFile, `${pid}\n`);
    await waitFor(() => processIdentity(pid) !== null, 'the sleep to be in /proc', 5_000);
    expect(verifiedPid(pidFile)).toBe(pid); // written after it started: what the older format recorded

    const beforeItStarted = new Date(Date.now() - 60_000);
    utimesSync(pidFile, beforeItStarted, beforeItStarted);
    expect(verifiedPid(pidFile)).toBeNull(); // the file predates the process: the pid was reused
  });
});

describe('missing tools', () => {
  it('a missing Temporal CLI with no Go to build it says what is missing and how to get it', async () => {
    const config = await scratchConfig();
    const emptyPath = join(scratchDir, 'empty-path');
    mkdirSync(emptyPath, { recursive: true });
    const lines: string[] = [];
    const failure = (() => {
      try {
        ensureTemporalCli(config, (line) => lines.push(line), { ...process.env, PATH: emptyPath });
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(StackError);
    const message = (failure as Error).message;
    expect(message).toContain('the Temporal CLI 1.5.1 is missing');
    expect(message).toContain(join(scratchDir, 'tools', 'bin'));
    expect(message).toContain('`temporal` 1.5.1 on PATH');
    expect(message).toContain('Go, needed to build it');
    expect(message).toContain('go install github.com/temporalio/cli/cmd/temporal@v1.5.1');
    expect(message).toContain('https://go.dev/dl');
    expect(lines.filter((line) => line.startsWith('building'))).toEqual([]); // nothing was built
    expect(existsSync(join(scratchDir, 'tools', 'bin', 'temporal'))).toBe(false);
  });

  it('missing PostgreSQL binaries are named with how to install them; PostgreSQL 15 is preferred', async () => {
    const noDebian = join(scratchDir, 'no-postgresql');
    const emptyPath = join(scratchDir, 'empty-path');
    mkdirSync(emptyPath, { recursive: true });
    expect(findPostgresBin({ path: emptyPath, debianRoot: noDebian })).toBeNull();
    expect(() =>
      ensurePostgresBin(() => {}, { install: false, path: emptyPath, debianRoot: noDebian }),
    ).toThrow(
      /initdb, pg_ctl.*not found.*install PostgreSQL 15 \(Debian 12: apt-get install postgresql\) or set DATABASE_URL/,
    );

    // 15 wins over a newer version and over whatever `initdb` is on PATH.
    const debian = join(scratchDir, 'postgresql');
    for (const version of ['15', '17']) {
      mkdirSync(join(debian, version, 'bin'), { recursive: true });
      for (const tool of ['initdb', 'pg_ctl'])
        writeFileSync(join(debian, version, 'bin', tool), '', { mode: 0o755 });
    }
    expect(findPostgresBin({ path: join(debian, '17', 'bin'), debianRoot: debian })).toBe(
      join(debian, '15', 'bin'),
    );
    rmSync(join(debian, '15'), { recursive: true });
    expect(findPostgresBin({ path: emptyPath, debianRoot: debian })).toBe(join(debian, '17', 'bin'));
  });
});
