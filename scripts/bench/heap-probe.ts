/**
 * Loaded by the bench into its worker processes (`node --import ./scripts/bench/heap-probe.ts`), never by
 * the product: answers the bench's IPC requests with the V8 heap figures of the process's main thread
 * and of each of its threads (the SDK runs workflows in worker threads, whose heaps a main-thread
 * snapshot does not show), and on request writes a heap snapshot of each
 * (`<dir>/<label>-main.heapsnapshot`, `<dir>/<label>-thread<N>.heapsnapshot`; docs/benchmarks.md).
 *
 * The threads are reached by wrapping `worker_threads.Worker` before the SDK makes them: each thread
 * first opens a port of its own to this probe, then loads the script the SDK asked for, unchanged.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import type * as WorkerThreads from 'node:worker_threads';

const require = createRequire(import.meta.url);
const threads: typeof WorkerThreads = require('node:worker_threads');

/**
 * MB of one isolate's V8 heap: in use (used_heap_size), its size (total_heap_size, what the process
 * holds for it), off-heap buffers (external_memory), and of that size the young generation's
 * (new_space: the two semi-spaces, which V8 grows under a high allocation rate and keeps).
 */
export interface IsolateHeap {
  usedMb: number;
  totalMb: number;
  externalMb: number;
  newSpaceMb: number;
}

export interface HeapFigures {
  main: IsolateHeap;
  threads: IsolateHeap[];
  rssMb: number;
  snapshots?: string[];
}

export interface HeapRequest {
  heapProbe: true;
  id: number;
  /** Write heap snapshots under this folder, named by the label. */
  snapshotDir?: string;
  label?: string;
  /** Collect garbage before reading (needs --expose-gc; otherwise a snapshot collects anyway). */
  gc?: boolean;
}

const THREAD_PRELUDE = `
const { workerData } = require('node:worker_threads');
const v8 = require('node:v8');
const probe = workerData.__heapProbePort;
probe.on('message', (request) => {
  if (request.gc && typeof globalThis.gc === 'function') globalThis.gc();
  if (request.snapshot) v8.writeHeapSnapshot(request.snapshot);
  const s = v8.getHeapStatistics();
  const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  probe.postMessage({ id: request.id, used: s.used_heap_size, total: s.total_heap_size, external: s.external_memory, newSpace: young ? young.space_size : 0 });
});
probe.unref();
require(workerData.__heapProbeTarget);
`;

interface ThreadAnswer {
  id: number;
  used: number;
  total: number;
  external: number;
  newSpace: number;
}

interface Probed {
  port: WorkerThreads.MessagePort;
  pending: Map<number, (answer: ThreadAnswer) => void>;
}
const probed: Probed[] = [];

const Original = threads.Worker;
class ProbedWorker extends Original {
  constructor(filename: string | URL, options: WorkerThreads.WorkerOptions = {}) {
    if (options.eval || options.workerData !== undefined) {
      super(filename, options);
      return;
    }
    const { port1, port2 } = new threads.MessageChannel();
    super(THREAD_PRELUDE, {
      ...options,
      eval: true,
      workerData: { __heapProbePort: port2, __heapProbeTarget: String(filename) },
      transferList: [...(options.transferList ?? []), port2],
    });
    const entry: Probed = { port: port1, pending: new Map() };
    port1.on('message', (answer: ThreadAnswer) => {
      entry.pending.get(answer.id)?.(answer);
      entry.pending.delete(answer.id);
    });
    port1.unref();
    this.once('exit', () => {
      const at = probed.indexOf(entry);
      if (at >= 0) probed.splice(at, 1);
    });
    probed.push(entry);
  }
}
threads.Worker = ProbedWorker as typeof threads.Worker;

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function answer(request: HeapRequest): Promise<HeapFigures> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (request.gc && gc) gc();
  const snapshots: string[] = [];
  const threadFigures = await Promise.all(
    probed.map(
      (entry, n) =>
        new Promise<IsolateHeap>((resolve) => {
          const snapshot =
            request.snapshotDir === undefined
              ? undefined
              : join(request.snapshotDir, `${request.label ?? 'heap'}-thread${n}.heapsnapshot`);
          if (snapshot) snapshots.push(snapshot);
          entry.pending.set(request.id, (a) =>
            resolve({
              usedMb: mb(a.used),
              totalMb: mb(a.total),
              externalMb: mb(a.external),
              newSpaceMb: mb(a.newSpace),
            }),
          );
          entry.port.postMessage({ id: request.id, snapshot, gc: request.gc === true });
        }),
    ),
  );
  if (request.snapshotDir !== undefined) {
    const file = join(request.snapshotDir, `${request.label ?? 'heap'}-main.heapsnapshot`);
    writeHeapSnapshot(file);
    snapshots.push(file);
  }
  const s = getHeapStatistics();
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return {
    main: {
      usedMb: mb(s.used_heap_size),
      totalMb: mb(s.total_heap_size),
      externalMb: mb(s.external_memory),
      newSpaceMb: mb(young?.space_size ?? 0),
    },
    threads: threadFigures,
    rssMb: mb(process.memoryUsage.rss()),
    ...(snapshots.length > 0 ? { snapshots } : {}),
  };
}

if (process.send) {
  process.on('message', (message: HeapRequest) => {
    if (message?.heapProbe !== true) return;
    void answer(message).then(
      (figures) => process.send?.({ heapProbe: true, id: message.id, figures }),
      (error: unknown) => process.send?.({ heapProbe: true, id: message.id, error: String(error) }),
    );
  });
  // The bench's channel must not keep a worker alive once it has stopped.
  process.channel?.unref();
}
