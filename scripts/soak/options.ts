/**
 * The soak's flags and the environment of its own stack, per Temporal mode (`--temporal dev|server`).
 * Pure: parsed and chosen here, tested in test/foundation/soak-options.test.ts, used by main.ts.
 */
import { parseArgs } from 'node:util';

export type SoakMode = 'dev' | 'server';

export interface SoakOptions {
  temporal: SoakMode;
  purchases: number;
  concurrency: number;
  seed: number;
  timeoutMs: number;
  workers: number;
  killEveryMs: number;
  /** 0 = no bound but time */
  maxKills: number;
  temporalRestarts: number;
  postgresRestarts: number;
}

/** What a bad flag gives: the message to print, and exit code 2. */
export class SoakFlagError extends Error {}

export function parseSoakOptions(args: string[]): SoakOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        temporal: { type: 'string', default: 'dev' },
        purchases: { type: 'string', default: '1000' },
        concurrency: { type: 'string', default: '16' },
        seed: { type: 'string', default: '1' },
        'timeout-ms': { type: 'string', default: String(40 * 60_000) },
        workers: { type: 'string', default: '2' },
        'kill-every-ms': { type: 'string', default: '5000' },
        'max-kills': { type: 'string', default: '0' },
        'temporal-restarts': { type: 'string', default: '1' },
        'postgres-restarts': { type: 'string', default: '1' },
      },
    }));
  } catch (error) {
    throw new SoakFlagError((error as Error).message);
  }
  const temporal = values.temporal;
  if (temporal !== 'dev' && temporal !== 'server') {
    throw new SoakFlagError(`--temporal must be dev or server (got ${temporal})`);
  }
  const whole = (name: string, min: number, max: number): number => {
    const raw = values[name];
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new SoakFlagError(`--${name} must be a whole number from ${min} to ${max} (got ${raw})`);
    }
    return value;
  };
  return {
    temporal,
    purchases: whole('purchases', 1, 100_000),
    concurrency: whole('concurrency', 1, 200),
    seed: whole('seed', 0, 2 ** 31 - 1),
    timeoutMs: whole('timeout-ms', 10_000, 24 * 3_600_000),
    workers: whole('workers', 1, 8),
    killEveryMs: whole('kill-every-ms', 500, 3_600_000),
    maxKills: whole('max-kills', 0, 100_000),
    temporalRestarts: whole('temporal-restarts', 0, 1),
    postgresRestarts: whole('postgres-restarts', 0, 1),
  };
}

/** What both modes share: the product profile, loopback, and the waits and intervals of the soak. */
const COMMON_ENV: Record<string, string> = {
  STACK_PROFILE: 'product',
  BIND_HOST: '127.0.0.1',
  METRICS_PORT: '0',
  LOG_LEVEL: 'info',
  // Orphans (checkouts recorded while Temporal was away) started within seconds, not minutes.
  RECONCILE_INTERVAL_MS: '5000',
  RECONCILE_PENDING_AFTER_MS: '10000',
  // Waits long enough for any restart; Stripe re-read after 30 s, then every minute (the doubling
  // capped early), in case a webhook was lost for good: a lost one costs a purchase a minute at most.
  CARD_WAIT_TIMEOUT_MS: String(15 * 60_000),
  AUTHENTICATION_WAIT_TIMEOUT_MS: String(15 * 60_000),
  STRIPE_RECHECK_INTERVAL_MS: '30000',
  STRIPE_RECHECK_MAX_INTERVAL_MS: '60000',
  PURCHASE_SETTLE_GRACE_MS: String(5 * 60_000),
  STRIPE_EMULATOR_WEBHOOK_RETRY_BASE_MS: '500',
};

/**
 * The soak's own stack per mode: a folder and ports of its own, apart from each other, from the test
 * stack (17233, 54339, 22111), the server-mode test (21233…, 21432) and the bench (27233…, 27432). All
 * below Linux's ephemeral range (32768–60999), where another process's outgoing connection can hold a
 * fixed port: the soak restarts Temporal and Postgres while its workers hold many connections.
 */
export function soakEnv(mode: SoakMode): Record<string, string> {
  if (mode === 'dev') {
    return {
      ...COMMON_ENV,
      STACK_DIR: '.stack/soak',
      TEMPORAL_MODE: 'dev',
      TEMPORAL_PORT: '26233',
      TEMPORAL_UI_PORT: '26234',
      POSTGRES_PORT: '26432',
      STRIPE_EMULATOR_PORT: '26111',
      STRIPE_MOCK_PORT: '26112',
      PORTAL_PORT: '26000',
      // The dev server persisting to a SQLite file, so its restart keeps the workflows.
      TEMPORAL_PERSISTENCE: 'file',
    };
  }
  return {
    ...COMMON_ENV,
    STACK_DIR: '.stack/soak-server',
    TEMPORAL_MODE: 'server',
    // The Temporal server's frontend; history +1, matching +2, worker +6, HTTP +10, membership 300
    // below (24933…24939: Temporal stores them as a smallint, so they must stay below 32768).
    TEMPORAL_PORT: '25233',
    TEMPORAL_UI_PORT: '25250',
    POSTGRES_PORT: '25432',
    STRIPE_EMULATOR_PORT: '25111',
    STRIPE_MOCK_PORT: '25112',
    PORTAL_PORT: '25000',
    // What the dev soak's file persistence does for the emulator's state (the Temporal server itself
    // keeps its data in the stack's Postgres).
    TEMPORAL_PERSISTENCE: 'file',
  };
}
