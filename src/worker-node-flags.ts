/**
 * The Node flags the worker process runs with: `npm run worker`, `npm start` and the soak start it so
 * (the bench gives both of its workers the same), and the worker warns at start when it was not.
 *
 * `--compact-on-every-full-gc`: V8 compacts every old-generation page that is mostly free at each full
 * collection, not only the first few megabytes of them. A worker with parked purchases keeps a sticky
 * cache of them while newer ones evict older ones; each purchase's objects are promoted among the
 * others', so an eviction leaves holes in pages that stay mostly empty and resident under V8's default
 * heuristics. The figures and their cost: docs/benchmarks.md ("a V8 flag against fragmentation").
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--compact-on-every-full-gc'];

/** The worker's flags this process was started without (empty when it has them all). */
export function missingWorkerNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return WORKER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
