/**
 * A wait for a count that notices when the count stops moving. On 2026-11-28 (run H in
 * docs/benchmarks.md) the dev server's SQLite connection stopped answering while 10,000 purchases were
 * parking: from 11:02 every operation failed with `interrupted (9)` (a cancelled statement's interrupt
 * that outlives it, in the modernc.org/sqlite the 1.5.1 CLI is built with), 4,650 purchases had
 * reached the card wait, and the bench would have waited out its whole 25-minute limit. A wait that
 * sees no progress for `stallMs` stops early and names the server log's last error.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How much of a log's end is searched for its last error. */
const LOG_TAIL_BYTES = 256 * 1024;

/**
 * The last error-level line of a JSON-lines server log (the Temporal CLI's and server's `--log-format
 * json`), as `msg: error`; null when the log is missing or its tail holds none. Lines that are not
 * JSON (a panic's trace, a partial first line) are skipped.
 */
export function lastLoggedError(logPath: string, tailBytes = LOG_TAIL_BYTES): string | null {
  let text: string;
  try {
    const size = statSync(logPath).size;
    const length = Math.min(size, tailBytes);
    const buffer = Buffer.alloc(length);
    const fd = openSync(logPath, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    text = buffer.toString('utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    let entry: unknown;
    try {
      entry = JSON.parse(lines[i] ?? '');
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null) continue;
    const { level, msg, error } = entry as Record<string, unknown>;
    if (typeof level !== 'string' || level.toUpperCase() !== 'ERROR') continue;
    const message = typeof msg === 'string' ? msg : 'error';
    return typeof error === 'string' ? `${message}: ${error}` : message;
  }
  return null;
}

export interface CountWait {
  /** What is counted, for the messages (`purchases awaiting a card`). */
  what: string;
  /** The current count; a throw counts as no progress. */
  count: () => Promise<number>;
  target: number;
  timeoutMs: number;
  /** Stop when the count has not grown for this long. */
  stallMs: number;
  pollMs?: number;
  /** Why it may have stopped moving (the server log's last error), read only when it stalls. */
  explainStall?: () => string | null;
}

export interface CountWaitResult {
  reached: number;
  outcome: 'done' | 'timeout' | 'stalled';
  /** For `timeout` and `stalled`: what happened, with the explanation when there is one. */
  message?: string;
}

/** Polls `count` until it reaches `target`, the time runs out, or it stops growing. Never throws. */
export async function waitForCount(wait: CountWait): Promise<CountWaitResult> {
  const pollMs = wait.pollMs ?? 250;
  const started = Date.now();
  let reached = 0;
  let lastGrowthAt = started;
  for (;;) {
    try {
      const now = await wait.count();
      if (now > reached) lastGrowthAt = Date.now();
      reached = Math.max(reached, now);
    } catch {
      // not counted this time: no progress
    }
    if (reached >= wait.target) return { reached, outcome: 'done' };
    const at = Date.now();
    if (at - started >= wait.timeoutMs) {
      return {
        reached,
        outcome: 'timeout',
        message: `${wait.what}: ${reached} of ${wait.target}, not all within ${wait.timeoutMs} ms`,
      };
    }
    if (at - lastGrowthAt >= wait.stallMs) {
      const why = wait.explainStall?.();
      return {
        reached,
        outcome: 'stalled',
        message:
          `${wait.what}: stuck at ${reached} of ${wait.target} for ${Math.round(wait.stallMs / 1000)} s` +
          (why ? `; the Temporal server's last logged error: ${why}` : ''),
      };
    }
    await sleep(pollMs);
  }
}
