import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { recheckCount as scheduledRecheckCount } from './domain/stripe-rechecks';
import { CACHE_SIZING } from './worker-cache';

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
/** A host name or an IPv4/IPv6 address to listen on (no scheme, port or path). */
const HOST_PATTERN = /^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45})$/;
const bindHost = z.string().regex(HOST_PATTERN, 'must be a host name or an IP address');

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The public defaults of the secrets (they are in this file, .env.example and the docs). Refused at start
 * whenever the portal listens beyond loopback or talks to real Stripe (docs/security.md).
 */
export const PUBLIC_DEFAULT_SECRETS = {
  PLATFORM_ADMIN_TOKEN: 'platform-admin-token-local-only',
  PORTAL_SESSION_SECRET: 'portal-session-secret-local-only-change-me',
  STRIPE_WEBHOOK_SECRET: 'whsec_emulator_local_secret',
} as const;

/** Requests per credential and per client address per window, by default (generous: tests, bench, soak). */
const DEFAULT_RATE_LIMIT_PER_CREDENTIAL = 30_000;
const DEFAULT_RATE_LIMIT_PER_IP = 120_000;

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

/** The least memory a worker may be given (WORKER_MEMORY_MB): more than its idle process takes. */
const MIN_WORKER_MEMORY_MB = 512;

/** At most this many re-reads of Stripe per wait (history size; see STRIPE_RECHECK_INTERVAL_MS). */
const MAX_RECHECKS_PER_WAIT = 500;

/**
 * How many times a wait of `waitMs` re-reads Stripe on the purchase workflow's schedule (the first after
 * `firstMs`, each after that doubling up to `maxMs`); counts past the limit stop at limit + 1.
 */
export function recheckCount(waitMs: number, firstMs: number, maxMs: number): number {
  return scheduledRecheckCount(waitMs, firstMs, maxMs, MAX_RECHECKS_PER_WAIT);
}

/** The least maximum interval that keeps a wait within MAX_RECHECKS_PER_WAIT re-reads. */
function leastMaxInterval(waitMs: number, firstMs: number): number {
  let low = firstMs;
  let high = Math.max(firstMs, waitMs);
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (recheckCount(waitMs, firstMs, mid) > MAX_RECHECKS_PER_WAIT) low = mid + 1;
    else high = mid;
  }
  return low;
}

function schemaFor(profile: Profile) {
  const ports = defaultPorts[profile];
  return z
    .object({
      STACK_PROFILE: z
        .enum(profiles)
        .default(profile)
        .describe(
          '`product` (what `npm start` runs) or `test` (what `npm test` runs): chooses the default ports and data directories, so both can run side by side.',
        ),
      STACK_DIR: z
        .string()
        .min(1)
        .default('.stack')
        .describe('Where the stack manager keeps built tools, data, logs and pid files (git-ignored).'),
      BIND_HOST: bindHost
        .default('127.0.0.1')
        .describe(
          'The address every component listens on. Loopback by default; any other address (e.g. `0.0.0.0`) serves the API to the network, and then the public default secrets (`PLATFORM_ADMIN_TOKEN`, `PORTAL_SESSION_SECRET`, `STRIPE_WEBHOOK_SECRET`) are refused and `TEMPORAL_ADDRESS` must name a Temporal of your own (the dev server has no authentication). See docs/security.md.',
        ),
      LOG_LEVEL: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('info')
        .describe('Level of the JSON logs of the worker and the portal.'),

      TEMPORAL_PORT: port
        .default(ports.temporal)
        .describe('gRPC port of the Temporal dev server the stack starts.'),
      TEMPORAL_UI_PORT: port.default(ports.temporalUi).describe("Port of the Temporal dev server's web UI."),
      TEMPORAL_ADDRESS: z
        .string()
        .min(1)
        .optional()
        .describe(
          'An existing Temporal (`host:port`) to use instead of the dev server. Unset: the dev server on `BIND_HOST:TEMPORAL_PORT`.',
        ),
      TEMPORAL_NAMESPACE: z
        .string()
        .min(1)
        .default('default')
        .describe('Temporal namespace of the purchases.'),
      TEMPORAL_TASK_QUEUE: z
        .string()
        .min(1)
        .default('credit-pack-purchases')
        .describe('Task queue the worker polls and checkout starts purchases on.'),
      TEMPORAL_PERSISTENCE: z
        .enum(['file', 'memory'])
        .default(profile === 'test' ? 'memory' : 'file')
        .describe(
          "Where the dev server keeps history: `file` (a SQLite file, kept across restarts) or `memory` (faster; the tests').",
        ),
      TEMPORAL_MODE: z
        .enum(['dev', 'server'])
        .default('dev')
        .describe(
          "What Temporal the stack starts when `TEMPORAL_ADDRESS` is unset: `dev` (the CLI's dev server) or `server` (the Temporal server 1.29.1 built from source, on SQL persistence and visibility in databases `temporal` and `temporal_visibility` of the Postgres cluster, with the Temporal UI 2.42.1 beside it; see docs/temporal-server.md). Its services listen on ports next to `TEMPORAL_PORT`.",
        ),
      TEMPORAL_HISTORY_SHARDS: positiveInt
        .max(16_384)
        .default(4)
        .describe(
          "History shards of the server mode's cluster. Fixed when its databases are first set up: the server refuses to start with another value later (remove the databases to change it).",
        ),
      TEMPORAL_SERVER_TLS: z
        .enum(['off', 'mtls'])
        .default('off')
        .describe(
          "Server mode: `mtls` makes the frontend require TLS with client certificates, from a CA and certificates the stack makes with openssl under the stack's folder; the worker, portal and scripts then use the stack's client certificate unless `TEMPORAL_TLS_CERT` is set.",
        ),
      TEMPORAL_TLS_CA: z
        .string()
        .min(1)
        .optional()
        .describe(
          "A PEM file of the CA that signed the Temporal frontend's certificate (TLS to Temporal). Unset: the system's CAs when TLS is on.",
        ),
      TEMPORAL_TLS_CERT: z
        .string()
        .min(1)
        .optional()
        .describe(
          'A PEM file of the client certificate for mutual TLS to Temporal; needs `TEMPORAL_TLS_KEY`. Setting any `TEMPORAL_TLS_*` turns TLS on.',
        ),
      TEMPORAL_TLS_KEY: z
        .string()
        .min(1)
        .optional()
        .describe("A PEM file of the client certificate's private key; needs `TEMPORAL_TLS_CERT`."),
      TEMPORAL_TLS_SERVER_NAME: z
        .string()
        .min(1)
        .optional()
        .describe(
          "The name the Temporal frontend's certificate must carry, when it is not the host of the address.",
        ),
      TEMPORAL_API_KEY: z
        .string()
        .min(1)
        .optional()
        .describe(
          'A Temporal Cloud API key, sent as a bearer token on every call to Temporal, over TLS. Unset: none.',
        ),

      DATABASE_URL: z
        .url({ protocol: /^postgres(ql)?$/ })
        .optional()
        .describe(
          'A `postgres://` (or `postgresql://`) URL of a database to use instead of the project-local cluster. Unset: the local cluster on `POSTGRES_PORT`.',
        ),
      POSTGRES_PORT: port.default(ports.postgres).describe('Port of the project-local Postgres cluster.'),
      POSTGRES_MAX_CONNECTIONS: positiveInt
        .max(100)
        .default(10)
        .describe(
          'Postgres connection pool size per process. The worker and the portal each hold one more connection beside the pool, for LISTEN (the event dispatcher; the checkout and cancel wait).',
        ),

      STRIPE_SECRET_KEY: z
        .string()
        .startsWith('sk_test_', 'must be a Stripe test-mode key (sk_test_…)')
        .default('sk_test_emulator')
        .describe(
          "`sk_test_emulator` means the project's Stripe emulator; any other `sk_test_…` key means real Stripe test mode. Live keys are refused.",
        ),
      STRIPE_PUBLISHABLE_KEY: z
        .string()
        .startsWith('pk_test_', 'must be a Stripe test-mode publishable key (pk_test_…)')
        .optional()
        .describe(
          "Stripe.js's publishable key (`pk_test_…`), needed by the portal page with real Stripe only. Unset: none (the emulator needs none).",
        ),
      STRIPE_WEBHOOK_SECRET: z
        .string()
        .startsWith('whsec_')
        .default(PUBLIC_DEFAULT_SECRETS.STRIPE_WEBHOOK_SECRET)
        .describe(
          'Signing secret of the Stripe webhook endpoint; the receiver verifies every event with it. The public default is refused with a non-loopback `BIND_HOST` or a real Stripe key.',
        ),
      STRIPE_EMULATOR_PORT: port.default(ports.stripeEmulator).describe('Port of the Stripe emulator.'),
      STRIPE_MOCK_PORT: port
        .default(ports.stripeMock)
        .describe("Port of Stripe's stripe-mock (request-shape checks; the test stack only)."),
      STRIPE_TIMEOUT_MS: positiveInt
        .max(120_000)
        .default(20_000)
        .describe('Timeout of one Stripe API request. Temporal owns the retries (the SDK retries nothing).'),
      STRIPE_EMULATOR_WEBHOOK_URLS: z
        .string()
        .optional()
        .describe(
          "Where the Stripe emulator posts its signed webhooks (comma-separated URLs). Unset: the portal's `/v1/stripe/webhooks`.",
        ),
      STRIPE_EMULATOR_STATE_FILE: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Where the Stripe emulator keeps its account across restarts. Unset: in memory; but the stack manager sets `.stack/product/stripe-emulator/state.json` for the product run (`TEMPORAL_PERSISTENCE=file`), so purchases keep their Stripe customers and charges across `npm start`s.',
        ),
      STRIPE_EMULATOR_WEBHOOK_RETRY_BASE_MS: positiveInt
        .max(600_000)
        .default(1_000)
        .describe("The emulator's first retry delay of a failed webhook delivery; it doubles per attempt."),

      PORTAL_PORT: port.default(ports.portal).describe('Port of the HTTP API and the portal page.'),
      PLATFORM_ADMIN_TOKEN: z
        .string()
        .min(16)
        .default(PUBLIC_DEFAULT_SECRETS.PLATFORM_ADMIN_TOKEN)
        .describe(
          'Bearer token of the platform operator (`POST /v1/organizations`). The public default is refused with a non-loopback `BIND_HOST` or a real Stripe key.',
        ),
      PORTAL_SESSION_SECRET: z
        .string()
        .min(32)
        .default(PUBLIC_DEFAULT_SECRETS.PORTAL_SESSION_SECRET)
        .describe(
          'Signs portal session tokens. The public default is refused with a non-loopback `BIND_HOST` or a real Stripe key.',
        ),
      PORTAL_SESSION_TTL_SECONDS: positiveInt
        .max(86_400)
        .default(3_600)
        .describe('Lifetime of a portal session token.'),
      RATE_LIMIT_WINDOW_MS: positiveInt
        .min(1_000)
        .max(3_600_000)
        .default(60_000)
        .describe('The window of the HTTP rate limits (`RATE_LIMIT_PER_CREDENTIAL`, `RATE_LIMIT_PER_IP`).'),
      RATE_LIMIT_PER_CREDENTIAL: z.coerce
        .number()
        .int()
        .min(0)
        .max(10_000_000)
        .default(DEFAULT_RATE_LIMIT_PER_CREDENTIAL)
        .describe(
          'Requests one bearer credential (platform token, API key or portal session token) may make per window, on every route; over it: 429 `rate_limited` with `Retry-After`. `0` turns the limit off.',
        ),
      RATE_LIMIT_PER_IP: z.coerce
        .number()
        .int()
        .min(0)
        .max(10_000_000)
        .default(DEFAULT_RATE_LIMIT_PER_IP)
        .describe(
          'Requests one client address may make per window, on every route (Stripe webhooks included), whatever its credentials; over it: 429 `rate_limited` with `Retry-After`. `0` turns the limit off.',
        ),

      WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt
        .max(1_000)
        .default(50)
        .describe("The worker's activity task slots."),
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt
        .max(1_000)
        .default(20)
        .describe("The worker's workflow task slots."),
      WORKER_MAX_CACHED_WORKFLOWS: positiveInt
        .max(100_000)
        .optional()
        .describe(
          `Size of the worker's sticky workflow cache (each of the worker process's two workers: purchases and event deliveries). A cached workflow keeps its state in the worker's memory until it is evicted, and a purchase awaiting a card stays cached while it waits, so this bounds the worker's memory. Unset: sized from the memory the worker is given (\`WORKER_MEMORY_MB\`, else the cgroup's memory limit, else the machine's memory): (memory × ${CACHE_SIZING.memoryShare} − ${CACHE_SIZING.baselineMb} MB) ÷ ${CACHE_SIZING.perWorkflowMb} MB a cached workflow, from ${CACHE_SIZING.min} to ${CACHE_SIZING.max}, ${CACHE_SIZING.deliveryShare * 100} % of it for event deliveries; the worker logs the size it chose and why (docs/operations.md).`,
        ),
      WORKER_MEMORY_MB: positiveInt
        .min(MIN_WORKER_MEMORY_MB)
        .max(4_194_304)
        .optional()
        .describe(
          "The memory the worker process is given, in MB, when its cgroup's limit is not what it may use (or there is none); it sizes the workflow cache when `WORKER_MAX_CACHED_WORKFLOWS` is unset, and with it set, a cache that would not fit is refused. Unset: the cgroup's memory limit, else the machine's memory.",
        ),
      WORKER_SHUTDOWN_GRACE_MS: positiveInt
        .max(600_000)
        .default(10_000)
        .describe('On SIGINT/SIGTERM, how long running activities get to finish before the worker exits.'),
      METRICS_PORT: z.coerce
        .number()
        .int()
        .min(0)
        .max(65_535)
        .default(ports.metrics)
        .describe("Port of the worker's Prometheus metrics (SDK metrics); `0` turns the exporter off."),

      RECONCILE_INTERVAL_MS: z.coerce
        .number()
        .int()
        .min(0)
        .max(3_600_000)
        .default(60_000)
        .describe(
          'How often the worker starts the workflows of purchases recorded at checkout but never started; `0` turns the sweep off.',
        ),
      RECONCILE_PENDING_AFTER_MS: positiveInt
        .max(86_400_000)
        .default(60_000)
        .describe('How old a `pending` purchase without a workflow must be before the sweep starts it.'),
      CARD_WAIT_TIMEOUT_MS: positiveInt
        .default(24 * 60 * 60 * 1000)
        .describe('How long a purchase waits for the customer to add a card before it expires.'),
      AUTHENTICATION_WAIT_TIMEOUT_MS: positiveInt
        .default(60 * 60 * 1000)
        .describe('How long a purchase waits for 3-D Secure before it expires.'),
      STRIPE_RECHECK_INTERVAL_MS: positiveInt
        .min(1_000)
        .default(5 * 60 * 1000)
        .describe(
          `While a purchase waits for a card or for 3-D Secure, how long before it first re-reads Stripe in case the webhook and the portal's message were both lost; each re-read doubles the interval, up to \`STRIPE_RECHECK_MAX_INTERVAL_MS\`. Refused when a wait would re-read more than ${MAX_RECHECKS_PER_WAIT} times (history size).`,
        ),
      STRIPE_RECHECK_MAX_INTERVAL_MS: positiveInt
        .min(1_000)
        .default(60 * 60 * 1000)
        .describe(
          'The longest interval between two re-reads of Stripe in a wait (at least `STRIPE_RECHECK_INTERVAL_MS`; equal to it: a fixed interval). With the defaults a purchase parked for the whole card wait re-reads Stripe 26 times (at 5, 15, 35 and 75 minutes, then hourly), not 287.',
        ),
      MAX_PURCHASE_QUANTITY: positiveInt
        .max(1_000)
        .default(10)
        .describe('The largest quantity one checkout may buy.'),
      PURCHASE_SETTLE_GRACE_MS: positiveInt
        .max(7 * 24 * 60 * 60 * 1000)
        .default(60 * 60 * 1000)
        .describe(
          'The invariant checker reports a purchase stuck when it is still not settled this long after both waits (`CARD_WAIT_TIMEOUT_MS` + `AUTHENTICATION_WAIT_TIMEOUT_MS` after checkout).',
        ),
      EVENT_DELIVERY_TASK_QUEUE: z
        .string()
        .min(1)
        .default('credit-pack-event-deliveries')
        .describe(
          'Task queue of the event deliveries to webhook endpoints (their own, so endpoints that stall never hold up purchases); the worker polls it with a second worker.',
        ),
      EVENT_DELIVERY_RETRY_BASE_MS: positiveInt
        .max(60_000)
        .default(30_000)
        .describe(
          'The delay before the first retry of a failed event delivery; each later delay doubles, capped at 1 hour, for 3 days (docs/api.md). Small values let tests run the schedule fast.',
        ),
      EVENT_DELIVERY_MAX_CONCURRENT: positiveInt
        .max(1_000)
        .default(200)
        .describe(
          "The delivery worker's activity slots: deliveries in flight at once (an attempt waits at most 10 s for its answer).",
        ),
      EVENT_DISPATCH_INTERVAL_MS: z.coerce
        .number()
        .int()
        .min(0)
        .max(60_000)
        .default(1_000)
        .describe(
          'How often the worker looks for recorded event deliveries whose workflow is not started yet (it is also woken by Postgres NOTIFY when an event is recorded); `0` turns the dispatcher off.',
        ),
    })
    .superRefine((env, ctx) => {
      // Exposed beyond loopback, or talking to real Stripe: the secrets anyone can read in the repo are
      // refused, each named (docs/security.md).
      // (A value refused by its own rule is reported there, not judged again here.)
      const exposed = HOST_PATTERN.test(env.BIND_HOST) && !isLoopbackHost(env.BIND_HOST);
      const realStripe =
        env.STRIPE_SECRET_KEY.startsWith('sk_test_') && env.STRIPE_SECRET_KEY !== 'sk_test_emulator';
      if (exposed || realStripe) {
        const why = exposed
          ? `BIND_HOST is ${env.BIND_HOST}, not a loopback address`
          : 'STRIPE_SECRET_KEY is a real Stripe key';
        for (const [name, value] of Object.entries(PUBLIC_DEFAULT_SECRETS)) {
          if (env[name as keyof typeof PUBLIC_DEFAULT_SECRETS] === value) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `the public default is refused because ${why}; set a secret of your own`,
            });
          }
        }
      }
      checkTemporalTls(env, ctx);
      // Both set: a cache that cannot fit in the memory given is refused rather than swapped or killed.
      const cached = env.WORKER_MAX_CACHED_WORKFLOWS;
      const memory = env.WORKER_MEMORY_MB;
      if (cached !== undefined && memory !== undefined && memory >= MIN_WORKER_MEMORY_MB) {
        const needMb = Math.ceil(CACHE_SIZING.baselineMb + cached * CACHE_SIZING.perWorkflowMb);
        if (needMb > memory) {
          ctx.addIssue({
            code: 'custom',
            path: ['WORKER_MAX_CACHED_WORKFLOWS'],
            message: `${cached} cached workflows need about ${needMb} MB (${CACHE_SIZING.baselineMb} MB for the idle worker + ${CACHE_SIZING.perWorkflowMb} MB a cached workflow), more than WORKER_MEMORY_MB=${memory}; lower it to at most ${Math.floor((memory - CACHE_SIZING.baselineMb) / CACHE_SIZING.perWorkflowMb)}, or unset it to size the cache from WORKER_MEMORY_MB`,
          });
        }
      }
      if (exposed && env.TEMPORAL_ADDRESS === undefined && env.TEMPORAL_SERVER_TLS !== 'mtls') {
        ctx.addIssue({
          code: 'custom',
          path: ['TEMPORAL_ADDRESS'],
          message: `required because BIND_HOST is ${env.BIND_HOST}, not a loopback address: the Temporal the stack starts has no authentication and must not listen there (unless TEMPORAL_MODE=server with TEMPORAL_SERVER_TLS=mtls)`,
        });
      }
      // Each re-read adds about a dozen events to a purchase's history; keep a wait's re-reads far below
      // Temporal's history limits (about 6 000 events at 500 re-reads).
      const first = env.STRIPE_RECHECK_INTERVAL_MS;
      const max = env.STRIPE_RECHECK_MAX_INTERVAL_MS;
      if (!(first >= 1_000 && max >= 1_000)) return; // already reported by their own bounds
      if (max < first) {
        ctx.addIssue({
          code: 'custom',
          path: ['STRIPE_RECHECK_MAX_INTERVAL_MS'],
          message: `${max} ms is below STRIPE_RECHECK_INTERVAL_MS (${first} ms), the first interval it caps; use at least ${first}`,
        });
        return;
      }
      for (const wait of ['CARD_WAIT_TIMEOUT_MS', 'AUTHENTICATION_WAIT_TIMEOUT_MS'] as const) {
        if (recheckCount(env[wait], first, max) > MAX_RECHECKS_PER_WAIT) {
          ctx.addIssue({
            code: 'custom',
            path: ['STRIPE_RECHECK_MAX_INTERVAL_MS'],
            message: `re-reads from every ${first} ms, doubling up to ${max} ms, would re-read Stripe more than ${MAX_RECHECKS_PER_WAIT} times in ${wait} (${env[wait]} ms); use at least ${leastMaxInterval(env[wait], first)}`,
          });
        }
      }
    });
}

type Env = z.infer<ReturnType<typeof schemaFor>>;

const TLS_FILES = {
  TEMPORAL_TLS_CA: { marker: 'CERTIFICATE', what: 'a PEM CA certificate' },
  TEMPORAL_TLS_CERT: { marker: 'CERTIFICATE', what: 'a PEM certificate' },
  TEMPORAL_TLS_KEY: { marker: 'PRIVATE KEY', what: 'a PEM private key' },
} as const;

type TemporalTlsSettings = Pick<
  Env,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_MODE'
  | 'TEMPORAL_SERVER_TLS'
  | 'TEMPORAL_TLS_CA'
  | 'TEMPORAL_TLS_CERT'
  | 'TEMPORAL_TLS_KEY'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** TLS to Temporal, checked at start: readable PEM files, a certificate with its key, a server that speaks TLS. */
function checkTemporalTls(env: TemporalTlsSettings, ctx: z.RefinementCtx): void {
  for (const [name, { marker, what }] of Object.entries(TLS_FILES)) {
    const file = env[name as keyof typeof TLS_FILES];
    if (file === undefined) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'unreadable';
      ctx.addIssue({ code: 'custom', path: [name], message: `${file}: ${reason}` });
      continue;
    }
    if (!new RegExp(`-----BEGIN [A-Z ]*${marker}-----`).test(text)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `${file} is not ${what}` });
    }
  }
  if ((env.TEMPORAL_TLS_CERT === undefined) !== (env.TEMPORAL_TLS_KEY === undefined)) {
    const missing = env.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY';
    ctx.addIssue({
      code: 'custom',
      path: [missing],
      message: 'mutual TLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
    });
  }
  if (env.TEMPORAL_SERVER_TLS === 'mtls' && env.TEMPORAL_MODE !== 'server') {
    ctx.addIssue({
      code: 'custom',
      path: ['TEMPORAL_SERVER_TLS'],
      message: 'only the server mode runs with TLS (TEMPORAL_MODE=server); the dev server has none',
    });
  }
  const tlsSet = (Object.keys(TLS_FILES) as (keyof TemporalTlsSettings)[])
    .concat(['TEMPORAL_TLS_SERVER_NAME', 'TEMPORAL_API_KEY'])
    .filter((name) => env[name] !== undefined);
  const plainLocal =
    env.TEMPORAL_ADDRESS === undefined &&
    !(env.TEMPORAL_MODE === 'server' && env.TEMPORAL_SERVER_TLS === 'mtls');
  if (plainLocal) {
    for (const name of tlsSet) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `the Temporal the stack starts (TEMPORAL_MODE=${env.TEMPORAL_MODE}${env.TEMPORAL_MODE === 'server' ? ', TEMPORAL_SERVER_TLS=off' : ''}) speaks plain gRPC; set TEMPORAL_ADDRESS to a cluster with TLS${env.TEMPORAL_MODE === 'server' ? ' or TEMPORAL_SERVER_TLS=mtls' : ''}`,
      });
    }
  }
}

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
  /**
   * TLS to Temporal (null: plain gRPC): the TEMPORAL_TLS_* files, each defaulting to the stack's own
   * (in `temporalServerTlsDir`) in server mode with TEMPORAL_SERVER_TLS=mtls. Applied by
   * src/temporal/connection.ts.
   */
  temporalTls: TemporalTls | null;
  /** Where the stack keeps the server mode's CA and certificates (made with openssl at its first start). */
  temporalServerTlsDir: string;
}

export interface TemporalTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

/** The project's root (the stack folder STACK_DIR is relative to it). */
const PROJECT_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

function resolveTemporalTls(e: Env, stackTlsDir: string): TemporalTls | null {
  const stackMtls =
    e.TEMPORAL_ADDRESS === undefined && e.TEMPORAL_MODE === 'server' && e.TEMPORAL_SERVER_TLS === 'mtls';
  const given =
    e.TEMPORAL_TLS_CA !== undefined ||
    e.TEMPORAL_TLS_CERT !== undefined ||
    e.TEMPORAL_TLS_SERVER_NAME !== undefined ||
    e.TEMPORAL_API_KEY !== undefined;
  if (!stackMtls && !given) return null;
  const own = (file: string) => (stackMtls ? resolve(stackTlsDir, file) : undefined);
  const tls: TemporalTls = {
    caFile: e.TEMPORAL_TLS_CA ?? own('ca.pem'),
    certFile: e.TEMPORAL_TLS_CERT ?? own('client.pem'),
    keyFile: e.TEMPORAL_TLS_KEY ?? own('client-key.pem'),
    // The stack's server certificate names localhost and the loopback address.
    serverName: e.TEMPORAL_TLS_SERVER_NAME ?? (stackMtls ? 'localhost' : undefined),
  };
  return Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as TemporalTls;
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
  const temporalServerTlsDir = resolve(PROJECT_ROOT, e.STACK_DIR, e.STACK_PROFILE, 'temporal-server', 'tls');
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
    temporalTls: resolveTemporalTls(e, temporalServerTlsDir),
    temporalServerTlsDir,
  };
}

/** One variable of the configuration, as docs/configuration.md lists it (`npm run docs:generate`). */
export interface ConfigReferenceRow {
  variable: string;
  /** The default of the product profile; undefined when the variable is unset by default. */
  productDefault: string | number | undefined;
  /** The default of the test profile; undefined when the variable is unset by default. */
  testDefault: string | number | undefined;
  description: string;
  /** The field's JSON Schema (type, bounds, enum, pattern), for the accepted values. */
  jsonSchema: Record<string, unknown>;
}

/** Every variable of the schema, in the schema's order, with its defaults per profile and its description. */
export function configReference(): ConfigReferenceRow[] {
  const [product, test] = profiles.map(
    (profile) =>
      z.toJSONSchema(schemaFor(profile), { io: 'input', unrepresentable: 'any' }).properties as Record<
        string,
        Record<string, unknown>
      >,
  );
  return Object.entries(product!).map(([variable, jsonSchema]) => ({
    variable,
    productDefault: jsonSchema.default as string | number | undefined,
    testDefault: test![variable]?.default as string | number | undefined,
    description: (jsonSchema.description as string | undefined) ?? '',
    jsonSchema,
  }));
}
