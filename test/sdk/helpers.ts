import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CreditPacks } from '../../packages/sdk/src/index';
import { type PortalHarness, portalHarness } from '../checkout/harness';

/**
 * The SDK against the real product: the portal app listening on a loopback port with the test
 * configuration, a Temporal worker and a Stripe emulator of the file's own (test/checkout/harness.ts).
 * No fetch is mocked: faults come from FaultProxy, a real HTTP server between the SDK and the app.
 */

export async function sdkHarness(): Promise<PortalHarness> {
  return portalHarness({ cardWaitTimeoutMs: 60_000, authenticationWaitTimeoutMs: 60_000 });
}

/** The organization's admin client on the harness's world. */
export const adminClient = (h: PortalHarness, baseUrl = h.url) =>
  new CreditPacks({ apiKey: h.world.apiKey, baseUrl, maxRetries: 0 });

/** The setup/payment intent id inside a purchase's nextAction client secret. */
export const intentOf = (purchase: { nextAction: { clientSecret: string } | null }) =>
  purchase.nextAction!.clientSecret.split('_secret_')[0]!;

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the proxy does to the next request that matches: one fault per rule, then it forwards. */
export type Fault =
  /** forward it, let the app answer in full, then destroy the client's socket instead of answering */
  | { kind: 'drop-answer' }
  /** answer with this status (the envelope, Retry-After and extra headers as given) without forwarding */
  | { kind: 'status'; status: number; retryAfter?: string; headers?: Record<string, string> }
  /** never answer */
  | { kind: 'hang' };

export interface FaultRule {
  method: string;
  path: string;
  fault: Fault;
  /** how many matching requests get the fault (default 1) */
  times?: number;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

/**
 * A loopback HTTP proxy in front of the app that injects faults: each request is recorded, and the
 * first matching rule with uses left applies to it. `answersDropped` keeps the bodies the app sent
 * for the answers the proxy destroyed, so a test can compare them with what the retry got.
 */
export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  readonly answersDropped: string[] = [];
  private rules: (FaultRule & { left: number })[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  url = '';

  constructor(private readonly upstream: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const method = req.method ?? 'GET';
        this.seen.push({ method, path, headers: req.headers, body });
        const rule = this.rules.find(
          (r) => r.left > 0 && r.method === method && path.split('?')[0] === r.path,
        );
        if (rule) rule.left -= 1;
        const fault = rule?.fault;
        if (fault?.kind === 'hang') return;
        if (fault?.kind === 'status') {
          const answer = JSON.stringify({
            success: false,
            error: {
              code: fault.status === 429 ? 'rate_limited' : 'service_unavailable',
              message: 'Injected.',
            },
          });
          res.writeHead(fault.status, {
            'content-type': 'application/json; charset=utf-8',
            ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
            ...(fault.headers ?? {}),
          });
          res.end(answer);
          return;
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (!hopByHop.has(name) && typeof value === 'string') headers[name] = value;
        }
        try {
          const upstream = await fetch(`${this.upstream}${path}`, {
            method,
            headers,
            body: method === 'GET' || method === 'HEAD' ? undefined : body,
            redirect: 'manual',
          });
          const text = await upstream.text();
          if (fault?.kind === 'drop-answer') {
            // The app has processed the request and answered; the client never hears it.
            this.answersDropped.push(text);
            req.socket.destroy();
            return;
          }
          const out: Record<string, string> = {};
          upstream.headers.forEach((value, name) => {
            if (!hopByHop.has(name) && name !== 'content-encoding') out[name] = value;
          });
          res.writeHead(upstream.status, out);
          res.end(text);
        } catch (error) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${String(error)}`);
        }
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Replaces the rules and forgets what was seen. */
  arm(...rules: FaultRule[]): void {
    this.rules = rules.map((r) => ({ ...r, left: r.times ?? 1 }));
    this.seen.length = 0;
    this.answersDropped.length = 0;
  }

  requestsTo(method: string, path: string): SeenRequest[] {
    return this.seen.filter((r) => r.method === method && r.path.split('?')[0] === path);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
