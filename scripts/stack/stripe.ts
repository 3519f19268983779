import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { managedProcess } from './managed-process';
import { componentDir, PROJECT_ROOT } from './paths';
import { portOpen } from './processes';
import { ensureStripeMock } from './tools';

const EMULATOR_MAIN = join(PROJECT_ROOT, 'tools', 'stripe-emulator', 'main.ts');

/** The project's Stripe emulator (tools/stripe-emulator): used unless a real sk_test_ key is configured. */
export const stripeEmulator = managedProcess({
  name: 'stripe-emulator',
  enabled: (config) => !config.stripeIsReal && existsSync(EMULATOR_MAIN),
  host: (config) => config.BIND_HOST,
  ports: (config) => [{ port: config.STRIPE_EMULATOR_PORT, variable: 'STRIPE_EMULATOR_PORT' }],
  readyTimeoutMs: 30_000,
  command: (config) => ({
    command: process.execPath,
    args: ['--import', 'tsx', EMULATOR_MAIN],
    env: {
      ...process.env,
      STACK_PROFILE: config.STACK_PROFILE,
      // The product run keeps its Temporal history and Postgres data across restarts, so its Stripe
      // account must survive too (a purchase's Stripe customer, its charges); tests start empty.
      ...(config.TEMPORAL_PERSISTENCE === 'file' && !config.STRIPE_EMULATOR_STATE_FILE
        ? { STRIPE_EMULATOR_STATE_FILE: join(componentDir(config, 'stripe-emulator'), 'state.json') }
        : {}),
    },
  }),
  ready: async (config) => {
    const response = await fetch(`${config.stripeEmulatorUrl}/_emulator/health`, {
      signal: AbortSignal.timeout(1_000),
    });
    return response.ok;
  },
  urls: (config) => ({ 'Stripe emulator': config.stripeEmulatorUrl }),
});

/** Stripe's own stripe-mock, for request-shape fidelity checks: tests only. */
export const stripeMock = managedProcess({
  name: 'stripe-mock',
  enabled: (config) => config.STACK_PROFILE === 'test',
  host: (config) => config.BIND_HOST,
  ports: (config) => [{ port: config.STRIPE_MOCK_PORT, variable: 'STRIPE_MOCK_PORT' }],
  readyTimeoutMs: 30_000,
  command: (config, log) => ({
    command: ensureStripeMock(config, log),
    // Its HTTPS listener would take 12112 whatever the HTTP address: a port of the system's choice instead,
    // so two stacks' stripe-mocks never collide.
    args: [
      '-http-addr',
      `${config.BIND_HOST}:${config.STRIPE_MOCK_PORT}`,
      '-https-addr',
      `${config.BIND_HOST}:`,
    ],
  }),
  ready: (config) => portOpen(config.BIND_HOST, config.STRIPE_MOCK_PORT),
  urls: (config) => ({ 'stripe-mock': config.stripeMockUrl }),
});
