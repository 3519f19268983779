import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { missingWorkerNodeFlags, WORKER_NODE_FLAGS } from '../../src/worker-node-flags';

/**
 * The worker's Node flags (src/worker-node-flags.ts): `npm run worker` passes them, this Node accepts
 * them (an unknown V8 flag stops node at start, so a Node upgrade that drops one fails here first), and
 * the worker can tell when it was started without them.
 */
describe("the worker's Node flags", () => {
  it('are passed by `npm run worker`, before the worker module', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const words = pkg.scripts.worker?.split(/\s+/) ?? [];
    expect(words[0]).toBe('node');
    const entry = words.indexOf('src/worker.ts');
    expect(entry).toBeGreaterThan(0);
    for (const flag of WORKER_NODE_FLAGS) {
      const at = words.indexOf(flag);
      expect(at, `${flag} in "${pkg.scripts.worker}"`).toBeGreaterThan(0);
      expect(at).toBeLessThan(entry);
    }
  });

  it('are accepted by this Node, and an unknown flag is not (so the check above means something)', () => {
    const ok = spawnSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', 'globalThis.gc?.()'], {
      encoding: 'utf8',
    });
    expect(ok.status, ok.stderr).toBe(0);
    const bad = spawnSync(process.execPath, ['--compact-on-every-full-gc-no-such-flag', '-e', '0'], {
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/bad option/);
  });

  it("cap a busy thread's young generation at 8 MB, where Node alone lets it grow past that", () => {
    // A thread that allocates fast and keeps a rolling window alive (what replays do): V8 grows its
    // young generation, up to 32 MB by default; the flags hold it at two 4 MB semi-spaces.
    const busy = `
      const v8 = require('node:v8');
      let window = [];
      let peak = 0;
      for (let i = 0; i < 3_000_000; i++) {
        window.push({ i, text: 'x' + i });
        if (window.length > 200_000) window = window.slice(100_000);
        if (i % 10_000 === 0) {
          const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
          peak = Math.max(peak, space.space_size);
        }
      }
      console.log(peak / 1024 / 1024);`;
    const peakMb = (flags: readonly string[]) => {
      const run = spawnSync(process.execPath, [...flags, '-e', busy], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      return Number(run.stdout.trim());
    };
    expect(peakMb(WORKER_NODE_FLAGS)).toBeLessThanOrEqual(8);
    expect(peakMb([])).toBeGreaterThan(8);
  });

  it('are reported missing when a process was started without them', () => {
    expect(WORKER_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(missingWorkerNodeFlags([])).toEqual([...WORKER_NODE_FLAGS]);
    expect(missingWorkerNodeFlags(['--import', 'tsx', ...WORKER_NODE_FLAGS])).toEqual([]);
    expect(missingWorkerNodeFlags(['--import', 'tsx'])).toEqual([...WORKER_NODE_FLAGS]);
  });
});
