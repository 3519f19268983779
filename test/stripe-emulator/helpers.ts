import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { createStripeAt } from '../../src/stripe/client';
import { type StripeEmulatorHandle, startStripeEmulator } from '../../tools/stripe-emulator/index';

export const WEBHOOK_SECRET = 'whsec_test_emulator_suite';

/** Polls `probe` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ReceivedWebhook {
  rawBody: string;
  signature: string;
  event: { id: string; type: string; data: { object: { id: string } } };
  answered: number;
}

/**
 * A webhook endpoint for tests: records every delivery (raw body and signature) and answers with the status
 * `respond` returns (default 200).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  let respond: (event: ReceivedWebhook['event'], attempt: number) => number = () => 200;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(rawBody) as ReceivedWebhook['event'];
      const attempt = received.filter((r) => r.event.id === event.id).length + 1;
      const status = respond(event, attempt);
      received.push({
        rawBody,
        signature: String(req.headers['stripe-signature'] ?? ''),
        event,
        answered: status,
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return {
    url,
    received,
    setResponder(fn: typeof respond) {
      respond = fn;
    },
    ofType(type: string) {
      return received.filter((r) => r.event.type === type);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

export interface EmulatorFixture {
  handle: StripeEmulatorHandle;
  stripe: Stripe;
  /** calls the control API: `control('POST', '/_emulator/faults', {...})` */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  state(): Promise<EmulatorState>;
}

export interface EmulatorState {
  paymentIntents: (Stripe.PaymentIntent & {
    _emulator: { requests: number; creates: number; confirmations: number; chargeAttempts: number };
  })[];
  charges: Stripe.Charge[];
  refunds: Stripe.Refund[];
  disputes: Stripe.Dispute[];
  events: Stripe.Event[];
  customers: Stripe.Customer[];
  paymentMethods: Stripe.PaymentMethod[];
  setupIntents: Stripe.SetupIntent[];
  requests: {
    requestId: string;
    method: string;
    path: string;
    status: number | null;
    replayed: boolean;
    fault: string | null;
    idempotencyKey: string | null;
  }[];
  webhooks: {
    pending: number;
    withheld: unknown[];
    deliveries: { eventId: string; attempt: number; status: number | null }[];
  };
}

export async function startEmulatorFixture(
  options: { webhookUrls?: string[]; webhookRetryBaseMs?: number; webhookMaxAttempts?: number } = {},
): Promise<EmulatorFixture> {
  const handle = await startStripeEmulator({
    port: 0,
    webhookEndpoints: (options.webhookUrls ?? []).map((url) => ({ url, secret: WEBHOOK_SECRET })),
    webhookRetryBaseMs: options.webhookRetryBaseMs ?? 20,
    webhookMaxAttempts: options.webhookMaxAttempts ?? 5,
  });
  const stripe = createStripeAt(handle.url, { timeoutMs: 5_000 });
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${handle.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`control ${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  return { handle, stripe, control, state: () => control<EmulatorState>('GET', '/_emulator/state') };
}

/** Runs `fn` and returns the error it throws (fails the test when it does not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await fn();
  } catch (e) {
    return e as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail, it succeeded');
}
