import { z } from 'zod';

/**
 * Every setting of the product, read from the environment and validated once at start.
 * `.env.example` lists the same variables with the same defaults; keep the two in step.
 *
 * Two profiles share one schema: `product` (what `npm start` runs) and `test` (what `npm test` runs).
 * They differ only in default ports and data directories, so a test run never touches the product's
 * Postgres data or Temporal history and both can run side by side.
 */

const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const loopbackHost = z
  .string()
  .refine((h) => h === '127.0.0.1' || h === 'localhost' || h === '::1', 'must be a loopback address');

export const profiles = ['product', 'test'] as const;
export type Profile = (typeof profiles)[number];

/** Default ports per profile; the test profile sits 10 000 above the product one. */
const defaultPorts = {
  product: {
    temporal: 7233,
    temporalUi: 8233,
    postgres: 54329,
    stripeEmulator: 12111,
    stripeMock: 12112,
    portal: 3000,
    metrics: 9464,
  },
  test: {
    temporal: 17233,
    temporalUi: 18233,
    postgres: 54339,
    stripeEmulator: 22111,
    stripeMock: 22112,
    portal: 13000,
    metrics: 19464,
  },
} as const satisfies Record<Profile, Record<string, number>>;

/** At most this many re-reads of Stripe per wait (history size; see STRIPE_RECHECK_INTERVAL_MS). */
const MAX_RECHECKS_PER_WAIT = 500;

function schemaFor(profile: Profile) {
  const ports = defaultPorts[profile];
  return z
    .object({
      STACK_PROFILE: z.enum(profiles).default(profile),
      STACK_DIR: z.string().min(1).default('.stack'),
      BIND_HOST: loopbackHost.default('127.0.0.1'),
      LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),

      TEMPORAL_PORT: port.default(ports.temporal),
      TEMPORAL_UI_PORT: port.default(ports.temporalUi),
      TEMPORAL_ADDRESS: z.string().min(1).optional(),
      TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
      TEMPORAL_TASK_QUEUE: z.string().min(1).default('credit-pack-purchases'),
      /** `file` keeps history across restarts (product); `memory` is faster (tests). */
      TEMPORAL_PERSISTENCE: z.enum(['file', 'memory']).default(profile === 'test' ? 'memory' : 'file'),

      DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
      POSTGRES_PORT: port.default(ports.postgres),
      POSTGRES_MAX_CONNECTIONS: positiveInt.max(100).default(10),

      STRIPE_SECRET_KEY: z
        .string()
        .startsWith('sk_test_', 'must be a Stripe test-mode key (sk_test_…)')
        .default('sk_test_emulator'),
      /** Stripe.js's key, needed by the portal page with real Stripe only. */
      STRIPE_PUBLISHABLE_KEY: z
        .string()
        .startsWith('pk_test_', 'must be a Stripe test-mode publishable key (pk_test_…)')
        .optional(),
      STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_').default('whsec_emulator_local_secret'),
      STRIPE_EMULATOR_PORT: port.default(ports.stripeEmulator),
      STRIPE_MOCK_PORT: port.default(ports.stripeMock),
      /** Stripe API timeout per request; Temporal owns the retries (maxNetworkRetries is 0). */
      STRIPE_TIMEOUT_MS: positiveInt.max(120_000).default(20_000),
      /** Where the Stripe emulator POSTs webhooks (comma-separated); default: the portal's webhook route. */
      STRIPE_EMULATOR_WEBHOOK_URLS: z.string().optional(),
      /** Where the Stripe emulator keeps its account across restarts; unset = in memory (the stack sets it for the product run). */
      STRIPE_EMULATOR_STATE_FILE: z.string().min(1).optional(),
      /** First retry delay of a failed emulator webhook delivery; doubles per attempt. */
      STRIPE_EMULATOR_WEBHOOK_RETRY_BASE_MS: positiveInt.max(600_000).default(1_000),

      PORTAL_PORT: port.default(ports.portal),
      PLATFORM_ADMIN_TOKEN: z.string().min(16).default('platform-admin-token-local-only'),
      PORTAL_SESSION_SECRET: z.string().min(32).default('portal-session-secret-local-only-change-me'),
      PORTAL_SESSION_TTL_SECONDS: positiveInt.max(86_400).default(3_600),

      WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt.max(1_000).default(50),
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.max(1_000).default(20),
      WORKER_MAX_CACHED_WORKFLOWS: positiveInt.max(100_000).default(1_000),
      WORKER_SHUTDOWN_GRACE_MS: positiveInt.max(600_000).default(10_000),
      /** Prometheus scrape port of the worker's SDK metrics; 0 turns the exporter off. */
      METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(ports.metrics),

      /** How often the worker starts workflows for purchases recorded at checkout but never started; 0 = off. */
      RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
      /** A `pending` purchase older than this with no workflow is considered orphaned. */
      RECONCILE_PENDING_AFTER_MS: positiveInt.max(86_400_000).default(60_000),
      CARD_WAIT_TIMEOUT_MS: positiveInt.default(24 * 60 * 60 * 1000),
      AUTHENTICATION_WAIT_TIMEOUT_MS: positiveInt.default(60 * 60 * 1000),
      /** While a purchase waits for a card or 3-D Secure, it re-reads Stripe this often in case its messages were lost. */
      STRIPE_RECHECK_INTERVAL_MS: positiveInt.min(1_000).default(5 * 60 * 1000),
      MAX_PURCHASE_QUANTITY: positiveInt.max(1_000).default(10),
      /** The invariant checker calls a purchase stuck once it is non-terminal this long past both waits. */
      PURCHASE_SETTLE_GRACE_MS: positiveInt.max(7 * 24 * 60 * 60 * 1000).default(60 * 60 * 1000),
    })
    .superRefine((env, ctx) => {
      // Each re-read adds about a dozen events to a purchase's history; keep a wait's re-reads far below
      // Temporal's history limits (about 6 000 events at 500 re-reads).
      if (!(env.STRIPE_RECHECK_INTERVAL_MS >= 1_000)) return; // already reported by its own bound
      for (const wait of ['CARD_WAIT_TIMEOUT_MS', 'AUTHENTICATION_WAIT_TIMEOUT_MS'] as const) {
        if (env[wait] / env.STRIPE_RECHECK_INTERVAL_MS > MAX_RECHECKS_PER_WAIT) {
          ctx.addIssue({
            code: 'custom',
            path: ['STRIPE_RECHECK_INTERVAL_MS'],
            message: `${env.STRIPE_RECHECK_INTERVAL_MS} ms would re-read Stripe more than ${MAX_RECHECKS_PER_WAIT} times in ${wait} (${env[wait]} ms); use at least ${Math.ceil(env[wait] / MAX_RECHECKS_PER_WAIT)}`,
          });
        }
      }
    });
}

type Env = z.infer<ReturnType<typeof schemaFor>>;

export interface Config extends Env {
  temporalAddress: string;
  temporalUiUrl: string;
  /** The database the product uses: DATABASE_URL, or the project-local cluster. */
  databaseUrl: string;
  /** True when Postgres is ours to start (no DATABASE_URL given). */
  postgresIsLocal: boolean;
  stripeEmulatorUrl: string;
  stripeMockUrl: string;
  /** True when STRIPE_SECRET_KEY is a real Stripe key and not the emulator's placeholder. */
  stripeIsReal: boolean;
  /** Webhook endpoints of the Stripe emulator (STRIPE_EMULATOR_WEBHOOK_URLS, or the portal's route). */
  stripeEmulatorWebhookUrls: string[];
  portalUrl: string;
  metricsUrl: string | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Local cluster's role and database; loopback only, trust auth (see scripts/stack/postgres.ts). */
export const LOCAL_DB_USER = 'credit_packs';
export const LOCAL_DB_NAME = 'credit_packs';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const profileResult = z
    .enum(profiles)
    .default('product')
    .safeParse(env.STACK_PROFILE || undefined);
  const profile: Profile = profileResult.success ? profileResult.data : 'product';
  // Empty strings mean "not set", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schemaFor(profile).safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const host = e.BIND_HOST;
  const stripeIsReal = e.STRIPE_SECRET_KEY !== 'sk_test_emulator';
  return {
    ...e,
    temporalAddress: e.TEMPORAL_ADDRESS ?? `${host}:${e.TEMPORAL_PORT}`,
    temporalUiUrl: `http://${host}:${e.TEMPORAL_UI_PORT}`,
    databaseUrl: e.DATABASE_URL ?? `postgres://${LOCAL_DB_USER}@${host}:${e.POSTGRES_PORT}/${LOCAL_DB_NAME}`,
    postgresIsLocal: e.DATABASE_URL === undefined,
    stripeEmulatorUrl: `http://${host}:${e.STRIPE_EMULATOR_PORT}`,
    stripeMockUrl: `http://${host}:${e.STRIPE_MOCK_PORT}`,
    stripeIsReal,
    portalUrl: `http://${host}:${e.PORTAL_PORT}`,
    stripeEmulatorWebhookUrls: (
      e.STRIPE_EMULATOR_WEBHOOK_URLS ?? `http://${host}:${e.PORTAL_PORT}/v1/stripe/webhooks`
    )
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== ''),
    metricsUrl: e.METRICS_PORT === 0 ? null : `http://${host}:${e.METRICS_PORT}/metrics`,
  };
}
