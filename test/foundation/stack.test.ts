import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackError, stackStatus, stackUp } from '../../scripts/stack/stack';
import { testConfig } from '../support/config';

let squatter: Server;
let squatterPort: number;
const scratchDir = mkdtempSync(join(tmpdir(), 'stack-test-'));

beforeAll(async () => {
  // Something that is not ours, holding a port.
  squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  squatterPort = (squatter.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
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
});
