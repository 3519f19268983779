import { describe, expect, it } from 'vitest';
import {
  CACHE_SIZING,
  cgroupMemoryLimitMb,
  sizeWorkflowCache,
  workerMemory,
  workflowCacheSizesFor,
} from '../../src/worker-cache';

/** A file reader over a fixed set of files; any other file is missing. */
function files(contents: Record<string, string>): (file: string) => string {
  return (file) => {
    const text = contents[file];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return text;
  };
}

describe("the worker's workflow cache, sized from its memory", () => {
  it('reads the cgroup limit: v2 memory.max, else v1; none when unlimited or absent', () => {
    expect(cgroupMemoryLimitMb(files({ '/sys/fs/cgroup/memory.max': '2147483648\n' }))).toBe(2048);
    expect(cgroupMemoryLimitMb(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeNull();
    expect(
      cgroupMemoryLimitMb(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '1073741824\n' })),
    ).toBe(1024);
    // cgroup v1 writes about 2^63 for "no limit".
    expect(
      cgroupMemoryLimitMb(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' })),
    ).toBeNull();
    expect(cgroupMemoryLimitMb(files({}))).toBeNull();
    expect(cgroupMemoryLimitMb(files({ '/sys/fs/cgroup/memory.max': 'garbage' }))).toBeNull();
  });

  it('takes WORKER_MEMORY_MB first, then a cgroup limit below the machine, then the machine', () => {
    const probe = (cgroup: number | null, total: number) => ({
      cgroupMb: () => cgroup,
      totalMb: () => total,
    });
    expect(workerMemory(3000, probe(1024, 16_384))).toEqual({ mb: 3000, source: 'WORKER_MEMORY_MB' });
    expect(workerMemory(undefined, probe(1024, 16_384))).toEqual({ mb: 1024, source: 'cgroup' });
    expect(workerMemory(undefined, probe(65_536, 16_384))).toEqual({ mb: 16_384, source: 'os.totalmem()' });
    expect(workerMemory(undefined, probe(null, 16_384))).toEqual({ mb: 16_384, source: 'os.totalmem()' });
  });

  it('gives the cache a share of the memory left over the baseline, per measured workflow, within bounds', () => {
    const { memoryShare, baselineMb, perWorkflowMb, min, max, deliveryShare } = CACHE_SIZING;
    // 4 GiB: (4096 × 0.5 − 450) ÷ 0.5 = 3196, a fifth of it for deliveries.
    const four = sizeWorkflowCache({ mb: 4096, source: 'cgroup' });
    const expected = Math.floor((4096 * memoryShare - baselineMb) / perWorkflowMb);
    expect(four.purchases + four.deliveries).toBe(expected);
    expect(four.deliveries).toBe(Math.round(expected * deliveryShare));
    expect(four.reason).toContain('4096 MB (cgroup)');
    expect(four.reason).toContain(`= ${expected}`);
    // It fits: baseline + every cached workflow at the measured cost stays within the memory.
    expect(baselineMb + (four.purchases + four.deliveries) * perWorkflowMb).toBeLessThanOrEqual(4096);
    // Too little memory: the minimum, said so.
    const small = sizeWorkflowCache({ mb: 512, source: 'WORKER_MEMORY_MB' });
    expect(small.purchases + small.deliveries).toBe(min);
    expect(small.reason).toContain(`raised to the minimum ${min}`);
    // A big machine: the maximum, said so.
    const big = sizeWorkflowCache({ mb: 262_144, source: 'os.totalmem()' });
    expect(big.purchases + big.deliveries).toBe(max);
    expect(big.reason).toContain(`capped at ${max}`);
    // More memory never means a smaller cache.
    let previous = 0;
    for (let mb = 512; mb <= 65_536; mb += 512) {
      const { purchases, deliveries } = sizeWorkflowCache({ mb, source: 'cgroup' });
      expect(purchases + deliveries).toBeGreaterThanOrEqual(previous);
      expect(purchases).toBeGreaterThan(0);
      expect(deliveries).toBeGreaterThan(0);
      previous = purchases + deliveries;
    }
  });

  it('keeps an explicit WORKER_MAX_CACHED_WORKFLOWS for both workers, without reading the memory', () => {
    const probe = {
      cgroupMb: () => {
        throw new Error('read');
      },
      totalMb: () => {
        throw new Error('read');
      },
    };
    expect(workflowCacheSizesFor({ WORKER_MAX_CACHED_WORKFLOWS: 1000 }, probe)).toEqual({
      purchases: 1000,
      deliveries: 1000,
      reason: 'WORKER_MAX_CACHED_WORKFLOWS=1000 (each worker)',
    });
    const sized = workflowCacheSizesFor(
      { WORKER_MEMORY_MB: 2048 },
      { cgroupMb: () => 1024, totalMb: () => 8192 },
    );
    expect(sized.reason).toContain('2048 MB (WORKER_MEMORY_MB)');
  });
});
