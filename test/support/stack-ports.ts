import { temporalServerPorts } from '../../scripts/stack/temporal-server';
import { loadConfig } from '../../src/config';

/**
 * Every port a stack with this environment listens on, each with what it is: the Temporal server mode's
 * services one by one, the dev server's single port otherwise, and the worker's metrics unless off (0).
 */
export function stackPorts(env: Record<string, string>): { port: number; what: string }[] {
  const config = loadConfig(env);
  const temporal =
    config.TEMPORAL_MODE === 'server'
      ? temporalServerPorts(config).all
      : [{ port: config.TEMPORAL_PORT, what: 'Temporal' }];
  return [
    ...temporal,
    { port: config.TEMPORAL_UI_PORT, what: 'Temporal UI' },
    { port: config.POSTGRES_PORT, what: 'Postgres' },
    { port: config.STRIPE_EMULATOR_PORT, what: 'Stripe emulator' },
    { port: config.STRIPE_MOCK_PORT, what: 'stripe-mock' },
    { port: config.PORTAL_PORT, what: 'portal' },
    ...(config.METRICS_PORT === 0 ? [] : [{ port: config.METRICS_PORT, what: 'worker metrics' }]),
  ];
}
