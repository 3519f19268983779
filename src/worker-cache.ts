import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/**
 * The worker's sticky workflow cache, sized from the memory the worker is given when
 * `WORKER_MAX_CACHED_WORKFLOWS` is unset (docs/configuration.md, docs/benchmarks.md).
 *
 * A cached workflow costs the worker memory until it is evicted (a parked purchase stays cached for as
 * long as it waits, up to a day), so the cache is what bounds a worker's memory under parked load:
 * size it from the memory, not from a constant.
 */
export const CACHE_SIZING = {
  /** The share of the worker's memory the cache may take once the baseline is paid. */
  memoryShare: 0.5,
  /**
   * RSS of an idle worker process (both workers' workflow threads, the bundle, the Postgres pool):
   * 360–450 MB measured by the bench (docs/benchmarks.md).
   */
  baselineMb: 450,
  /**
   * Memory one cached purchase costs the worker, rounded up from the bench's measure (RSS growth of
   * 0.37–0.44 MB a parked purchase, 1,000 parked with a cache of 1,000; docs/benchmarks.md).
   */
  perWorkflowMb: 0.5,
  min: 100,
  max: 20_000,
  /** The event deliveries' worker (same process, own task queue) gets this share of the cache. */
  deliveryShare: 0.2,
} as const;

/** The memory a worker is given, and where that figure comes from. */
export interface WorkerMemory {
  mb: number;
  source: 'WORKER_MEMORY_MB' | 'cgroup' | 'os.totalmem()';
}

/** A cgroup memory limit at or above this many bytes means none (cgroup v1 writes ~2^63 for "no limit"). */
const NO_LIMIT_BYTES = 2 ** 60;

/**
 * The cgroup's memory limit in MB (v2 `memory.max`, else v1 `memory.limit_in_bytes`), or null when
 * there is none (unlimited, not in a cgroup, or unreadable).
 */
export function cgroupMemoryLimitMb(
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): number | null {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(file).trim();
    } catch {
      continue;
    }
    if (text === 'max') return null;
    const bytes = Number(text);
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= NO_LIMIT_BYTES) return null;
    return Math.floor(bytes / 1024 / 1024);
  }
  return null;
}

/** WORKER_MEMORY_MB if set; else the cgroup's limit if lower than the machine's memory; else the machine's. */
export function workerMemory(
  setting: number | undefined,
  probe: { cgroupMb: () => number | null; totalMb: () => number } = {
    cgroupMb: () => cgroupMemoryLimitMb(),
    totalMb: () => Math.floor(totalmem() / 1024 / 1024),
  },
): WorkerMemory {
  if (setting !== undefined) return { mb: setting, source: 'WORKER_MEMORY_MB' };
  const total = probe.totalMb();
  const cgroup = probe.cgroupMb();
  return cgroup !== null && cgroup < total
    ? { mb: cgroup, source: 'cgroup' }
    : { mb: total, source: 'os.totalmem()' };
}

export interface WorkflowCacheSizes {
  /** maxCachedWorkflows of the purchases' worker (TEMPORAL_TASK_QUEUE: purchases, refunds, auto top-ups). */
  purchases: number;
  /** maxCachedWorkflows of the event deliveries' worker (EVENT_DELIVERY_TASK_QUEUE). */
  deliveries: number;
  /** Why these, for the start log. */
  reason: string;
}

/**
 * The cache sized from the memory: (memory × memoryShare − baseline) ÷ per-workflow cost, within
 * [min, max], split between the purchases' worker and the deliveries' (deliveryShare).
 */
export function sizeWorkflowCache(memory: WorkerMemory): WorkflowCacheSizes {
  const { memoryShare, baselineMb, perWorkflowMb, min, max, deliveryShare } = CACHE_SIZING;
  const fits = Math.floor((memory.mb * memoryShare - baselineMb) / perWorkflowMb);
  const total = Math.min(max, Math.max(min, fits));
  const bound = fits > max ? `, capped at ${max}` : fits < min ? `, raised to the minimum ${min}` : '';
  const deliveries = Math.max(1, Math.round(total * deliveryShare));
  return {
    purchases: total - deliveries,
    deliveries,
    reason: `WORKER_MAX_CACHED_WORKFLOWS unset: ${total} cached workflows from ${memory.mb} MB (${memory.source}): (${memory.mb} MB × ${memoryShare} − ${baselineMb} MB baseline) ÷ ${perWorkflowMb} MB a cached workflow = ${Math.max(0, fits)}${bound}; ${total - deliveries} for purchases, ${deliveries} for event deliveries`,
  };
}

/**
 * The worker process's caches: WORKER_MAX_CACHED_WORKFLOWS for each of its two workers when set (as
 * always); otherwise sized from the memory it is given (WORKER_MEMORY_MB, the cgroup's limit, or the
 * machine's).
 */
export function workflowCacheSizesFor(
  config: { WORKER_MAX_CACHED_WORKFLOWS?: number | undefined; WORKER_MEMORY_MB?: number | undefined },
  probe?: Parameters<typeof workerMemory>[1],
): WorkflowCacheSizes {
  const set = config.WORKER_MAX_CACHED_WORKFLOWS;
  if (set !== undefined) {
    return { purchases: set, deliveries: set, reason: `WORKER_MAX_CACHED_WORKFLOWS=${set} (each worker)` };
  }
  return sizeWorkflowCache(workerMemory(config.WORKER_MEMORY_MB, probe));
}
