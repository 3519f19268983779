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

  it('are reported missing when a process was started without them', () => {
    expect(WORKER_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(missingWorkerNodeFlags([])).toEqual([...WORKER_NODE_FLAGS]);
    expect(missingWorkerNodeFlags(['--import', 'tsx', ...WORKER_NODE_FLAGS])).toEqual([]);
    expect(missingWorkerNodeFlags(['--import', 'tsx'])).toEqual([...WORKER_NODE_FLAGS]);
  });
});
