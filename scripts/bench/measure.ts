/** Timing of a batch of operations over concurrent lanes: throughput and latency percentiles. */

export function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

export interface RunFigures {
  concurrency: number;
  count: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  outcomes: Record<string, number>;
}

/** `count` operations over `concurrency` lanes; each returns its outcome; timed one by one and in total. */
export async function timed(
  concurrency: number,
  count: number,
  one: (lane: number) => Promise<string>,
): Promise<RunFigures> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (next < count) {
        next += 1;
        const s = performance.now();
        const outcome = await one(lane);
        latencies.push(performance.now() - s);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    concurrency,
    count: sorted.length,
    perSecond: sorted.length / elapsedS,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    outcomes,
  };
}
