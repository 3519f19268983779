/**
 * The bench's own stack: never the product's nor the test's ports or data. Every port is below Linux's
 * ephemeral range (32768–60999), where another process's outgoing connection may hold a fixed port.
 * With `--temporal server`, the Temporal server on Postgres (docs/temporal-server.md) in a folder of
 * its own; its services sit next to TEMPORAL_PORT (history +1 … HTTP +10, membership 300 below).
 */
export function benchEnv(temporal: 'dev' | 'server'): Record<string, string> {
  return {
    STACK_PROFILE: 'product',
    STACK_DIR: temporal === 'server' ? '.stack/bench-server' : '.stack/bench',
    ...(temporal === 'server' ? { TEMPORAL_MODE: 'server' } : {}),
    TEMPORAL_PORT: '27233',
    TEMPORAL_UI_PORT: '28233',
    POSTGRES_PORT: '27432',
    STRIPE_EMULATOR_PORT: '32111',
    STRIPE_MOCK_PORT: '32112',
    PORTAL_PORT: '23000',
    // Worker i > 0 of the product serves its metrics on METRICS_PORT + 10 + i.
    METRICS_PORT: '29464',
    TEMPORAL_PERSISTENCE: 'file',
    WORKER_MAX_CACHED_WORKFLOWS: '1000',
    LOG_LEVEL: 'warn',
  };
}
