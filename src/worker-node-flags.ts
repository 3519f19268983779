/**
 * The Node flags the worker process runs with: `npm run worker`, `npm start` and the soak start it so
 * (the bench gives both of its workers the same), and the worker warns at start when it was not.
 *
 * `--compact-on-every-full-gc`: V8 compacts every old-generation page that is mostly free at each full
 * collection, not only the first few megabytes of them. A worker with parked purchases keeps a sticky
 * cache of them while newer ones evict older ones; each purchase's objects are promoted among the
 * others', so an eviction leaves holes in pages that stay mostly empty and resident under V8's default
 * heuristics. The figures and their cost: docs/benchmarks.md ("a V8 flag against fragmentation").
 *
 * `--max-semi-space-size=4`: each isolate's young generation (the main thread's, each workflow
 * thread's) at most 8 MB instead of 32. V8 grows it while a thread allocates fast and gives it back
 * when the thread goes idle; a worker with parked purchases is never idle for long (their re-reads of
 * Stripe, the replays of those not cached), so both of its isolates sat at 32 MB. The figures and
 * their cost: docs/benchmarks.md ("re-reads that back off and a capped young generation").
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--compact-on-every-full-gc', '--max-semi-space-size=4'];

/** The worker's flags this process was started without (empty when it has them all). */
export function missingWorkerNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return WORKER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
