/**
 * The bench's parking wait stops when the count stops moving and names the server log's last error
 * (scripts/bench/stall.ts): a wedged Temporal server costs minutes, not the whole limit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLoggedError, waitForCount } from '../../scripts/bench/stall';

function logFile(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bench-stall-')), 'temporal.log');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe("the server log's last error", () => {
  it('is the last error-level JSON line, as msg: error', () => {
    const path = logFile([
      '{"level":"ERROR","msg":"Update workflow execution operation failed.","error":"context canceled"}',
      'goroutine 1 [running]: not JSON',
      '{"level":"ERROR","msg":"Operation failed with internal error.","error":"GetWorkflowExecution: failed. Error: interrupted (9)"}',
      '{"level":"WARN","msg":"Fail to process task","error":"later, but a warning"}',
      '{"level":"INFO","msg":"fine"}',
    ]);
    expect(lastLoggedError(path)).toBe(
      'Operation failed with internal error.: GetWorkflowExecution: failed. Error: interrupted (9)',
    );
  });

  it('is null for a log without errors, or no log at all', () => {
    expect(lastLoggedError(logFile(['{"level":"WARN","msg":"slow"}', 'plain text']))).toBeNull();
    expect(lastLoggedError('/nonexistent/temporal.log')).toBeNull();
  });

  it('reads only the tail: an error before it is not reported', () => {
    const path = logFile([
      '{"level":"ERROR","msg":"old"}',
      ...Array(100).fill('{"level":"INFO","msg":"filler"}'),
    ]);
    expect(lastLoggedError(path, 1_000)).toBeNull();
    expect(lastLoggedError(path)).toBe('old');
  });
});

describe('waiting for a count', () => {
  it('is done when the count reaches its target', async () => {
    let n = 0;
    const result = await waitForCount({
      what: 'parked',
      count: async () => {
        n += 5;
        return n;
      },
      target: 20,
      timeoutMs: 5_000,
      stallMs: 1_000,
      pollMs: 1,
    });
    expect(result).toEqual({ reached: 20, outcome: 'done' });
  });

  it('stops when the count stops growing, with the explanation', async () => {
    const counts = [1, 2, 3];
    const started = Date.now();
    const result = await waitForCount({
      what: 'purchases awaiting a card',
      count: async () => counts.shift() ?? 3,
      target: 10,
      timeoutMs: 10_000,
      stallMs: 200,
      pollMs: 10,
      explainStall: () => 'interrupted (9)',
    });
    expect(result.outcome).toBe('stalled');
    expect(result.reached).toBe(3);
    expect(result.message).toBe(
      "purchases awaiting a card: stuck at 3 of 10 for 0 s; the Temporal server's last logged error: interrupted (9)",
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('times out when the count grows too slowly, and counts a failed read as no progress', async () => {
    let n = 0;
    let calls = 0;
    const result = await waitForCount({
      what: 'parked',
      count: async () => {
        calls += 1;
        if (calls % 2 === 0) throw new Error('not now');
        n += 1;
        return n;
      },
      target: 1_000_000,
      timeoutMs: 150,
      stallMs: 10_000,
      pollMs: 5,
    });
    expect(result.outcome).toBe('timeout');
    expect(result.reached).toBeGreaterThan(1);
    expect(result.message).toMatch(/^parked: \d+ of 1000000, not all within 150 ms$/);
  });
});
