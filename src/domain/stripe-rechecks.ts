/**
 * The schedule of a purchase wait's re-reads of Stripe (ARCHITECTURE.md, "Lost messages do not stall a
 * purchase"): the first comes `firstMs` into the wait, and each one after that at twice the last
 * interval, up to `maxMs`. One definition for the workflow, which sleeps by it, and for the config,
 * which refuses a schedule that would re-read too often. Pure: imported into the workflow bundle.
 */

/**
 * The interval before re-read number `rechecksDone + 1`. Without a maximum (purchases started before
 * the doubling) every interval is the first. The exponent stops at 30: past that, any first interval
 * times 2^30 exceeds every maximum a config accepts, and the power stays a finite number.
 */
export function recheckIntervalMs(firstMs: number, maxMs: number | undefined, rechecksDone: number): number {
  return maxMs ? Math.min(maxMs, firstMs * 2 ** Math.min(rechecksDone, 30)) : firstMs;
}

/**
 * How many times a wait of `waitMs` re-reads Stripe on that schedule, when no message wakes it; a count
 * past `limit` stops at `limit + 1` (the caller only needs to know it is too many).
 */
export function recheckCount(waitMs: number, firstMs: number, maxMs: number, limit: number): number {
  let count = 0;
  for (let atMs = firstMs; atMs < waitMs && count <= limit; ) {
    count++;
    atMs += recheckIntervalMs(firstMs, maxMs, count);
  }
  return count;
}
