import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import {
  registerAjvFormats,
  type TypeBoxTypeProvider,
  TypeBoxValidatorCompiler,
} from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import type Stripe from 'stripe';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { pingDatabase } from '../db/health';
import { randomBase62 } from '../db/ids';
import { AppError, errorCodes } from '../domain/errors';
import { createPurchaseChanges, type PurchaseChanges } from '../purchases';
import { createStripe } from '../stripe/client';
import { envelope } from './context';
import { clientErrorHandler, installErrorHandling, routerErrorHandler, sendError } from './errors';
import { adminRoutes, platformRoutes } from './routes/admin';
import { pageRoutes } from './routes/page';
import { portalRoutes } from './routes/portal';
import { webhookRoutes } from './routes/webhooks';
import { ErrorBody } from './schemas';

/** One named readiness probe; throws (or rejects) when the dependency is not reachable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface BuildAppOptions {
  config: Config;
  sql: Sql;
  /** extra /readyz probes beyond Postgres (e.g. Temporal) */
  readinessChecks?: ReadinessCheck[];
  /** Fastify logger option; defaults to pino at config.LOG_LEVEL */
  logger?: FastifyServerOptions['logger'];
  /** request body limit in bytes (default 64 KiB) */
  bodyLimit?: number;
  /**
   * Temporal client for checkout, cancel and webhook signals (also adds a `temporal` readiness probe).
   * Without one those routes answer 503 and the rest of the API works.
   */
  temporal?: Client | null;
  /** Stripe SDK (default: createStripe(config), the emulator unless a real test key is configured). */
  stripe?: Stripe;
  /** How long checkout waits for the purchase to need something or settle before answering (default 3 s). */
  checkoutWaitMs?: number;
  /**
   * What wakes the checkout's and cancel's waits (default: a LISTEN connection of its own on
   * config.databaseUrl, opened at the first wait and closed with the app). One given here is the
   * caller's to close.
   */
  purchaseChanges?: PurchaseChanges;
  /** Stripe.js publishable key (pk_test_…) for the portal page with a real Stripe key. */
  stripePublishableKey?: string | null;
  /** Called for every route as it is registered (Fastify's onRoute hook), e.g. to list them in a test. */
  onRoute?: (route: RouteOptions) => void;
}

export const DEFAULT_CHECKOUT_WAIT_MS = 3_000;

export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** Random base62 characters of a request id (`req_…`). */
const REQUEST_ID_LENGTH = 16;
/** Longest path parameter the router accepts (characters); longer answers 400 validation_failed. */
const MAX_PARAM_LENGTH = 200;
/** Largest request header block (bytes, Node's default); larger answers 431 validation_failed. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Deepest JSON body accepted (levels of objects and arrays); deeper answers 400 validation_failed. */
export const MAX_JSON_DEPTH = 32;
const READINESS_TIMEOUT_MS = 2_000;

let formatsRegistered = false;

/** The HTTP API of docs/api.md (not listening; call `.listen()` or `.inject()`). */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, sql } = options;
  if (!formatsRegistered) {
    registerAjvFormats();
    formatsRegistered = true;
  }

  const app = Fastify({
    logger: options.logger ?? {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization'],
    },
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Every answer names its request (Request-Id, as Stripe does), so a client's error report and the
    // portal's log line (reqId) can be matched.
    genReqId: () => `req_${randomBase62(REQUEST_ID_LENGTH)}`,
    // unknown route segments stay 404; ids are case-sensitive
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // Fastify's and Node's own refusals, answered in the envelope too (./errors): the router's (bad
    // percent-encoding, a parameter over MAX_PARAM_LENGTH) and Node's parser's errors here; the 503
    // while closing and the 400 for a missing Host by installErrorHandling's onRequest hook instead.
    frameworkErrors: routerErrorHandler({ maxParamLength: MAX_PARAM_LENGTH }),
    clientErrorHandler,
    return503OnClosing: false,
    http: { requireHostHeader: false, maxHeaderSize: MAX_HEADER_BYTES },
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (options.onRoute) app.addHook('onRoute', options.onRoute);

  // TypeBox validates (no coercion of bodies; query/params are converted from strings, numbers only
  // from numerals: TypeBox alone reads `?limit=true` as 1, found by the fuzz).
  app.setValidatorCompiler(strictNumbersValidatorCompiler);
  // Response schemas document the API; bodies are serialized as-is (no silent field stripping).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON only: text/plain and everything else answer 415.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('organizationId', null);
  app.decorateRequest('portalSession', null);
  app.addSchema(ErrorBody);
  app.addHook('onSend', async (request, reply) => {
    reply.header('request-id', request.id);
  });
  installErrorHandling(app);
  await installRateLimits(app, config);
  refuseDeepJson(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Credit packs API',
        version: '1.0.0',
        description: `Admin and customer-portal API of the credit-pack product. Amounts are in cents (usd). Every answer is { success, data } or { success: false, error: { code, message } }; error codes: ${errorCodes.join(', ')}.`,
      },
      components: {
        securitySchemes: {
          platformToken: { type: 'http', scheme: 'bearer', description: 'PLATFORM_ADMIN_TOKEN' },
          organizationApiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'organization API key (orgkey_…)',
          },
          portalSession: { type: 'http', scheme: 'bearer', description: 'portal session token (pst_…)' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}`,
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness' } }, async () =>
    envelope({ status: 'ok' }),
  );

  const temporal = options.temporal ?? null;
  const checks: ReadinessCheck[] = [
    { name: 'postgres', check: () => pingDatabase(sql) },
    ...(temporal
      ? [
          {
            name: 'temporal',
            check: () =>
              temporal.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () =>
                temporal.workflowService.getSystemInfo({}),
              ),
          },
        ]
      : []),
    ...(options.readinessChecks ?? []),
  ];
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Postgres and Temporal (and any configured dependency) reachable',
      },
    },
    async (request, reply) => {
      const results = await Promise.all(
        checks.map(async ({ name, check }) => {
          try {
            await withTimeout(check(), READINESS_TIMEOUT_MS);
            return { name, ok: true };
          } catch (error) {
            request.log.warn({ err: error, check: name }, 'readiness check failed');
            return { name, ok: false };
          }
        }),
      );
      const failed = results.filter((r) => !r.ok).map((r) => r.name);
      if (failed.length > 0)
        return sendError(reply, 'service_unavailable', `Not ready: ${failed.join(', ')} unreachable.`);
      return envelope({ status: 'ready', checks: Object.fromEntries(results.map((r) => [r.name, 'ok'])) });
    },
  );

  let purchaseChanges = options.purchaseChanges;
  if (!purchaseChanges) {
    const own = createPurchaseChanges({
      databaseUrl: config.databaseUrl,
      log: app.log,
      applicationName: 'credit-pack-portal-listen',
    });
    app.addHook('onClose', () => own.close());
    purchaseChanges = own;
  }
  const deps = {
    config,
    sql,
    temporal,
    stripe: options.stripe ?? createStripe(config),
    checkoutWaitMs: options.checkoutWaitMs ?? DEFAULT_CHECKOUT_WAIT_MS,
    purchaseChanges,
    stripePublishableKey: options.stripePublishableKey ?? null,
  };
  await app.register(platformRoutes, deps);
  await app.register(adminRoutes, deps);
  await app.register(portalRoutes, deps);
  await app.register(webhookRoutes, deps);
  await app.register(pageRoutes, deps);

  return app;
}

const NUMERAL = /^-?\d+(\.\d+)?$/;

/**
 * TypeBox's validator compiler, but a query-string or path field typed integer or number accepts only
 * a numeral: TypeBox's conversion would read `true` as 1 and `false` as 0.
 */
const strictNumbersValidatorCompiler: typeof TypeBoxValidatorCompiler = (route) => {
  const validate = TypeBoxValidatorCompiler(route);
  const { schema, httpPart } = route as {
    schema: { properties?: Record<string, { type?: unknown }> };
    httpPart?: string;
  };
  if (httpPart === 'body' || !schema?.properties) return validate;
  const numeric = Object.entries(schema.properties)
    .filter(([, field]) => field?.type === 'integer' || field?.type === 'number')
    .map(([name]) => name);
  if (numeric.length === 0) return validate;
  return (value: unknown) => {
    if (value !== null && typeof value === 'object') {
      for (const name of numeric) {
        const raw = (value as Record<string, unknown>)[name];
        if (typeof raw === 'string' && !NUMERAL.test(raw)) {
          return {
            error: [
              {
                keyword: 'type',
                schemaPath: '#/type',
                instancePath: `/${name}`,
                message: 'must be a number',
                params: {},
              },
            ],
          };
        }
      }
    }
    return validate(value);
  };
};

/**
 * Rate limits on every route (docs/security.md): per bearer credential (the Authorization header, any
 * shape, keyed by its hash) and per client address, each RATE_LIMIT_… requests per RATE_LIMIT_WINDOW_MS.
 * Over either: 429 rate_limited in the envelope, with Retry-After (seconds). Counted in this process's
 * memory (one portal process; a fleet would need a shared store). Runs at onRequest, before any
 * credential is checked, so guessing credentials is limited too; unknown routes count as well.
 */
async function installRateLimits(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(rateLimit, { global: false, cache: 20_000 });
  const timeWindow = config.RATE_LIMIT_WINDOW_MS;
  const limiters = [
    {
      what: 'from this address',
      max: config.RATE_LIMIT_PER_IP,
      // The plugin's default key: the client address (IPv6 by its /64).
      limit: app.createRateLimit({ max: config.RATE_LIMIT_PER_IP, timeWindow }),
    },
    {
      what: 'with this credential',
      max: config.RATE_LIMIT_PER_CREDENTIAL,
      limit: app.createRateLimit({
        max: config.RATE_LIMIT_PER_CREDENTIAL,
        timeWindow,
        keyGenerator: (request) =>
          `credential:${createHash('sha256')
            .update(String(request.headers.authorization))
            .digest('base64url')}`,
        allowList: (request) => request.headers.authorization === undefined,
      }),
    },
  ].filter((limiter) => limiter.max > 0);
  if (limiters.length === 0) return;
  app.addHook('onRequest', async (request, reply) => {
    for (const { what, limit } of limiters) {
      const answer = await limit(request);
      if (!answer.isAllowed && answer.isExceeded) {
        const seconds = Math.max(1, answer.ttlInSeconds);
        reply.header('retry-after', String(seconds));
        throw new AppError('rate_limited', `Too many requests ${what}; retry in ${seconds} s.`);
      }
    }
  });
}

/**
 * A JSON body nested deeper than MAX_JSON_DEPTH answers 400 validation_failed before validation or any
 * handler walks it (no request of the API needs more than a few levels).
 */
function refuseDeepJson(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (request.body !== null && typeof request.body === 'object' && !Buffer.isBuffer(request.body)) {
      if (depthExceeds(request.body, MAX_JSON_DEPTH)) {
        throw new AppError(
          'validation_failed',
          `The JSON body is nested too deeply (at most ${MAX_JSON_DEPTH} levels).`,
        );
      }
    }
  });
}

/** Whether `value` nests objects/arrays deeper than `max` levels (iterative: no recursion to overflow). */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
