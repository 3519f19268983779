/**
 * The Stripe emulator's HTTP server: Stripe's request pipeline (auth, form decoding, unknown-parameter
 * rejection, idempotency, error envelope, `Request-Id`), fault injection, and the test-only control API
 * under `/_emulator/…` (see README.md).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Chaos } from './chaos';
import type { RequestContext } from './context';
import { handleControl } from './control';
import { errorEnvelope, invalidRequest, StripeApiError } from './errors';
import { Faults } from './faults';
import { decodeForm, FormDecodeError, type FormObject } from './form';
import { canonical, IdempotencyStore } from './idempotency';
import { newId, nowSeconds } from './ids';
import { parseParams } from './params';
import { matchRoute } from './router';
import { ShapeLog } from './shapes';
import { clone, Store, type StripeEvent } from './state';
import { StateFile } from './state-file';
import { WebhookDispatcher } from './webhooks';

/** The API version the emulator answers with when a request names none (stripe-node 23's pinned version). */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

export interface StripeEmulatorOptions {
  host?: string;
  /** 0 (default) = a random free port */
  port?: number;
  webhookEndpoints?: { url: string; secret: string }[];
  /** first retry delay of a failed webhook delivery; doubles per attempt (default 1000 ms) */
  webhookRetryBaseMs?: number;
  /** attempts per delivery, the first included (default 8) */
  webhookMaxAttempts?: number;
  /** per-attempt timeout of a webhook POST (default 10 s) */
  webhookTimeoutMs?: number;
  /** one line per API request, e.g. `console.log` (default: silent) */
  log?: (line: string) => void;
  /** keep the account in this JSON file across restarts (state-file.ts); default: in memory only */
  stateFile?: string;
  /**
   * When Stripe's later, unprompted outcomes happen (a test card's dispute, a refund that ends `failed` or
   * `succeeded`): 0 (default) = at once, right after the request's answer is computed (the answer shows the
   * first state); n = n ms later; 'manual' = never on their own (tests act through the control API).
   */
  asyncDelayMs?: number | 'manual';
}

export interface StripeEmulatorHandle {
  url: string;
  port: number;
  emulator: Emulator;
  close(): Promise<void>;
}

export class Emulator {
  store = new Store();
  faults = new Faults();
  /** faults at random rates and webhook chaos, for soaks (chaos.ts) */
  chaos = new Chaos();
  idempotency = new IdempotencyStore();
  /** distinct request shapes accepted (test-only; kept across resets) */
  shapes = new ShapeLog();
  webhooks: WebhookDispatcher;
  /** see StripeEmulatorOptions.asyncDelayMs; changed at runtime by `POST /_emulator/async` */
  asyncDelayMs: number | 'manual';
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: StripeEmulatorOptions) {
    this.asyncDelayMs = options.asyncDelayMs ?? 0;
    this.webhooks = new WebhookDispatcher({
      retryBaseMs: options.webhookRetryBaseMs ?? 1000,
      maxAttempts: options.webhookMaxAttempts ?? 8,
      timeoutMs: options.webhookTimeoutMs ?? 10_000,
      onDelivered: (eventId) => {
        const event = this.store.events.get(eventId);
        if (event && event.pending_webhooks > 0) event.pending_webhooks--;
      },
    });
    this.webhooks.chaos = this.chaos;
    for (const e of options.webhookEndpoints ?? []) this.webhooks.addEndpoint(e.url, e.secret, 'config');
  }

  reset(): void {
    this.store = new Store();
    this.faults.clear();
    this.chaos.off();
    this.idempotency.clear();
    this.webhooks.reset();
    this.cancelTimers();
    this.asyncDelayMs = this.options.asyncDelayMs ?? 0;
  }

  cancelTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Runs the later outcomes a request deferred (RequestContext.defer) according to `asyncDelayMs`; each
   * gets a context without a request. A job scheduled before a reset never runs into the new account.
   */
  runDeferred(jobs: ((ctx: RequestContext) => void)[], apiVersion: string): void {
    if (jobs.length === 0 || this.asyncDelayMs === 'manual') return;
    const store = this.store;
    const run = () => {
      if (this.store !== store) return;
      const { ctx, deferred } = this.context(null, null, {}, apiVersion);
      for (const job of jobs) {
        try {
          job(ctx);
        } catch (error) {
          // A later outcome that no longer applies (its object changed meanwhile) is dropped, never the answer.
          this.options.log?.(`deferred outcome dropped: ${String(error)}`);
        }
      }
      this.runDeferred(deferred, apiVersion);
    };
    if (this.asyncDelayMs === 0) {
      run();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, this.asyncDelayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** A context for work not caused by an API request (test-only control routes): events carry no request. */
  context(
    requestId: string | null,
    idempotencyKey: string | null,
    params: Record<string, unknown> = {},
    apiVersion = DEFAULT_API_VERSION,
  ) {
    const touched = new Set<string>();
    const deferred: ((ctx: RequestContext) => void)[] = [];
    const ctx: RequestContext = {
      store: this.store,
      params,
      pathParams: {},
      requestId: requestId ?? newId('req'),
      idempotencyKey,
      apiVersion,
      emit: (type, object, previousAttributes) => {
        const event: StripeEvent = {
          id: newId('evt'),
          object: 'event',
          api_version: apiVersion,
          created: nowSeconds(),
          data: previousAttributes ? { object, previous_attributes: previousAttributes } : { object },
          livemode: false,
          pending_webhooks: this.webhooks.endpoints.length,
          request: { id: requestId, idempotency_key: idempotencyKey },
          type,
        };
        this.store.events.set(event.id, event);
        this.webhooks.enqueue(clone(event));
      },
      touchPaymentIntent: (id) => {
        if (!touched.has(id)) {
          touched.add(id);
          this.store.stats(id).requests++;
        }
      },
      defer: (job) => {
        deferred.push(job);
      },
    };
    return { ctx, touched, deferred };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    if (url.pathname.startsWith('/_emulator')) {
      await handleControl(this, method, url.pathname, body, res);
      return;
    }
    await this.handleApi(req, res, method, url, body);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, method: string, url: URL, body: string) {
    const requestId = newId('req');
    const path = url.pathname;
    const idempotencyKey = headerValue(req, 'idempotency-key');
    const apiVersion = headerValue(req, 'stripe-version') ?? DEFAULT_API_VERSION;
    const logEntry = {
      requestId,
      method,
      path,
      idempotencyKey,
      status: null as number | null,
      replayed: false,
      fault: null as string | null,
      at: Date.now(),
    };
    this.store.logRequest(logEntry);
    const headers: Record<string, string> = {
      'Request-Id': requestId,
      'Stripe-Version': apiVersion,
      'Content-Type': 'application/json',
    };
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    const send = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
      logEntry.status = status;
      this.options.log?.(`${method} ${path} ${status}${logEntry.replayed ? ' (replayed)' : ''} ${requestId}`);
      res.writeHead(status, { ...headers, ...extra });
      res.end(`${JSON.stringify(payload, null, 2)}\n`);
    };
    const sendError = (err: StripeApiError, extra: Record<string, string> = {}) =>
      send(err.status, errorEnvelope(err), extra);

    // Authentication, as Stripe checks it first.
    const auth = headerValue(req, 'authorization');
    // Bearer (the SDK) or Basic with the key as user name (`curl -u sk_test_…:`), as Stripe accepts both.
    const apiKey = auth?.startsWith('Bearer ')
      ? auth.slice(7).trim()
      : auth?.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0]?.trim() || null
        : null;
    if (!apiKey) {
      sendError(
        invalidRequest(
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
          { status: 401 },
        ),
      );
      return;
    }
    if (!/^(sk|rk)_test_/.test(apiKey)) {
      send(401, {
        error: {
          type: 'invalid_request_error',
          message: `Invalid API Key provided: ${apiKey.slice(0, 8)}****`,
        },
      });
      return;
    }

    // Injected faults that act before anything happens.
    const fault = this.faults.take(method, path) ?? this.chaos.take(method, path);
    if (fault) logEntry.fault = fault.action.type;
    if (fault?.action.type === 'status') {
      const { status, retryAfterSeconds } = fault.action;
      const extra: Record<string, string> = {};
      if (retryAfterSeconds !== undefined || status === 429)
        extra['Retry-After'] = String(retryAfterSeconds ?? 1);
      if (status === 429) {
        send(
          429,
          {
            error: {
              type: 'invalid_request_error',
              code: 'rate_limit',
              message:
                'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
            },
          },
          extra,
        );
      } else {
        const { errorType = 'api_error', code } = fault.action;
        send(
          status,
          {
            error: {
              type: errorType,
              ...(code ? { code } : {}),
              message:
                errorType === 'api_error'
                  ? 'An unknown error occurred'
                  : `Refused by a test fault (${code ?? status}).`,
            },
          },
          extra,
        );
      }
      return;
    }
    if (fault?.action.type === 'drop_before') {
      logEntry.status = null;
      req.socket.destroy();
      return;
    }

    const matched = matchRoute(method, path);
    if (!matched) {
      sendError(
        invalidRequest(
          `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
          { status: 404 },
        ),
      );
      return;
    }

    let raw: FormObject;
    const encoded = method === 'GET' || method === 'DELETE' ? url.search.slice(1) : body;
    try {
      raw = decodeForm(encoded);
    } catch (e) {
      if (e instanceof FormDecodeError) {
        sendError(invalidRequest(e.message, { beforeExecution: true }));
        return;
      }
      throw e;
    }

    const useIdempotency = method === 'POST' && idempotencyKey !== null;
    if (useIdempotency) {
      const begun = this.idempotency.begin(
        apiKey,
        idempotencyKey,
        `${method} ${path}`,
        canonical(raw),
        requestId,
      );
      switch (begun.kind) {
        case 'in_flight':
          send(409, {
            error: {
              type: 'invalid_request_error',
              code: 'idempotency_key_in_use',
              doc_url: 'https://stripe.com/docs/error-codes/idempotency-key-in-use',
              message:
                'There is currently another in-progress request using this Stripe-Idempotency-Key. Please try again later.',
            },
          });
          return;
        case 'endpoint_mismatch':
        case 'params_mismatch':
          send(400, {
            error: {
              type: 'idempotency_error',
              message:
                begun.kind === 'endpoint_mismatch'
                  ? `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${begun.endpoint}' vs '${method} ${path}'). Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`
                  : `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            },
          });
          return;
        case 'replay': {
          logEntry.replayed = true;
          this.countReplay(begun.body);
          if (fault?.action.type === 'stall') await sleep(fault.action.ms);
          if (fault?.action.type === 'drop_after') {
            logEntry.status = null;
            req.socket.destroy();
            return;
          }
          send(begun.status, begun.body, {
            'Idempotent-Replayed': 'true',
            'Original-Request': begun.requestId,
          });
          return;
        }
        case 'new':
          break;
      }
    }

    if (fault?.action.type === 'stall') await sleep(fault.action.ms);

    let status: number;
    let payload: unknown;
    let saved = true;
    let deferred: ((ctx: RequestContext) => void)[] = [];
    try {
      const params = parseParams(matched.route.spec, raw);
      if (fault?.action.type === 'stored_error') {
        // Stripe failed while executing: nothing happened, but the answer is the key's answer from now on.
        throw new StripeApiError(fault.action.status, {
          type: 'api_error',
          message: 'An unknown error occurred',
        });
      }
      const made = this.context(requestId, idempotencyKey, params, apiVersion);
      deferred = made.deferred;
      made.ctx.pathParams = matched.pathParams;
      const result = matched.route.handler(made.ctx);
      status = 200;
      payload = clone(result);
    } catch (e) {
      if (!(e instanceof StripeApiError)) {
        status = 500;
        payload = { error: { type: 'api_error', message: `Emulator error: ${(e as Error).message}` } };
        saved = false;
      } else {
        status = e.status;
        payload = errorEnvelope(e);
        if (e.beforeExecution) saved = false;
      }
    }
    if (saved) {
      this.shapes.record({
        method,
        route: matched.route.pattern,
        spec: matched.route.spec,
        raw,
        apiVersion,
        path,
        encoded,
      });
    }
    if (useIdempotency) {
      if (saved) this.idempotency.complete(apiKey, idempotencyKey, status, payload);
      else this.idempotency.abandon(apiKey, idempotencyKey);
    }
    this.runDeferred(deferred, apiVersion);
    if (fault?.action.type === 'drop_after') {
      logEntry.status = null;
      req.socket.destroy();
      return;
    }
    send(status, payload);
  }

  private countReplay(body: unknown): void {
    const b = body as { object?: string; id?: string; error?: { payment_intent?: { id?: string } } } | null;
    const piId = b?.object === 'payment_intent' ? b.id : b?.error?.payment_intent?.id;
    if (piId && this.store.paymentIntents.has(piId)) this.store.stats(piId).requests++;
  }
}

function headerValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  if (Array.isArray(v)) return v[0] ?? null;
  return v ?? null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startStripeEmulator(
  options: StripeEmulatorOptions = {},
): Promise<StripeEmulatorHandle> {
  const emulator = new Emulator(options);
  const stateFile = options.stateFile ? new StateFile(options.stateFile, emulator) : null;
  stateFile?.load();
  const server = createServer((req, res) => {
    emulator.handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `Emulator error: ${String(e)}` } }));
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  stateFile?.start();
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    emulator,
    close: () =>
      new Promise<void>((resolve, reject) => {
        emulator.webhooks.reset();
        emulator.cancelTimers();
        server.close((err) => {
          try {
            stateFile?.stop(); // saved whether or not the server closed cleanly
          } catch (error) {
            return reject(error);
          }
          if (err) reject(err);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}
