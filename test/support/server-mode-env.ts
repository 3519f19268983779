/**
 * The stack of test/temporal-server/server-mode.test.ts (TEMPORAL_MODE=server with mTLS): its folder and
 * ports, apart from every other stack of the project so it can start beside the test stack while other
 * test files run. Every port is below Linux's ephemeral range (32768–60999): this stack starts, and
 * restarts its Temporal server, while those files hold many outgoing connections, any of which may
 * take a port of that range as its local port, and a listener can then not bind it.
 * The Temporal server's services sit next to TEMPORAL_PORT: history +1, matching +2, worker +6, HTTP +10,
 * membership 300 below (20933…20939). The second worker's metrics are on METRICS_PORT + 1.
 */
export const SERVER_MODE_ENV = {
  STACK_PROFILE: 'test',
  STACK_DIR: '.stack/server',
  TEMPORAL_MODE: 'server',
  TEMPORAL_SERVER_TLS: 'mtls',
  TEMPORAL_PORT: '21233',
  TEMPORAL_UI_PORT: '21250',
  POSTGRES_PORT: '21432',
  STRIPE_EMULATOR_PORT: '21111',
  STRIPE_MOCK_PORT: '21112',
  PORTAL_PORT: '21000',
  METRICS_PORT: '21464',
} as const;
