/**
 * Times the steps of a test helper's teardown and says which were slow. Fresh-clone CI runs have seen a
 * test file take about 70 s outside its tests (sdk/refunds, then checkout/refund-after-completion, then
 * sdk/refunds again), with nothing in the log to say where. Timing the portal harness too named it: its
 * close waited on keep-alive connections (now bounded, src/portal/close.ts). Logging only: a slow step still succeeds, and the steps run exactly as before, in order.
 */
export class StepTimer {
  private readonly steps: { name: string; ms: number }[] = [];
  private readonly startedAt = performance.now();

  constructor(
    private readonly what: string,
    /** Worth a line when the whole took longer than this. */
    private readonly slowMs = 10_000,
  ) {}

  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const at = performance.now();
    try {
      return await run();
    } finally {
      this.steps.push({ name, ms: Math.round(performance.now() - at) });
    }
  }

  /** Logs the steps' durations when the whole was slow. */
  report(): void {
    const totalMs = Math.round(performance.now() - this.startedAt);
    if (totalMs <= this.slowMs) return;
    const parts = this.steps.map(({ name, ms }) => `${name} ${ms} ms`).join(', ');
    console.warn(`[slow] ${this.what} took ${totalMs} ms: ${parts}`);
  }
}
