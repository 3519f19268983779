/** The test-only control API under `/_emulator/…` (JSON in, JSON out). Documented in README.md. */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { testCards } from './cards';
import { DEFAULT_API_VERSION, type Emulator } from './emulator';
import { resourceMissing, StripeApiError } from './errors';
import { closeDispute, disputeReasons, openDispute } from './resources/disputes';
import { authenticatePaymentIntent } from './resources/payment-intents';
import { paymentMethodFromNumber } from './resources/payment-methods';
import { settleRefund } from './resources/refunds';
import { authenticateSetupIntent } from './resources/setup-intents';
import { clone } from './state';

const endpointSchema = z.object({ url: z.url(), secret: z.string().min(1) });
const webhookControlSchema = z.object({
  withhold: z.boolean().optional(),
  delayMs: z.number().int().nonnegative().max(600_000).optional(),
  duplicateNext: z.number().int().nonnegative().optional(),
});
const releaseSchema = z.object({ order: z.enum(['fifo', 'reverse', 'shuffle']).default('fifo') });
const resendSchema = z.object({ eventId: z.string().startsWith('evt_') });
const authenticateSchema = z.object({ outcome: z.enum(['succeed', 'fail']) });
const declineChargesSchema = z.object({
  decline_code: z.enum(['insufficient_funds', 'generic_decline', 'lost_card']),
});
const openDisputeSchema = z.object({
  reason: z.enum(disputeReasons).optional(),
  amount: z.number().int().positive().optional(),
});
const closeDisputeSchema = z.object({ outcome: z.enum(['won', 'lost']) });
const settleRefundSchema = z.object({
  outcome: z.enum(['succeeded', 'failed']),
  failure_reason: z
    .enum([
      'lost_or_stolen_card',
      'expired_or_canceled_card',
      'charge_for_pending_refund_disputed',
      'insufficient_funds',
      'declined',
      'merchant_request',
      'unknown',
    ])
    .optional(),
});
const asyncSchema = z.object({
  delayMs: z.union([z.number().int().nonnegative().max(600_000), z.literal('manual')]),
});
const expireSchema = z.object({ prefix: z.string().min(1).optional() });
const cardSchema = z.object({
  number: z.string().min(12),
  exp_month: z.number().int().min(1).max(12).optional(),
  exp_year: z.number().int().optional(),
  cvc: z.string().optional(),
  customer: z.string().optional(),
});

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return {};
  return JSON.parse(body);
}

export async function handleControl(
  emulator: Emulator,
  method: string,
  path: string,
  body: string,
  res: ServerResponse,
): Promise<void> {
  try {
    const result = route(emulator, method, path, parseJson(body));
    if (result === undefined) reply(res, 404, { error: `no control route ${method} ${path}` });
    else reply(res, 200, result);
  } catch (e) {
    if (e instanceof z.ZodError) reply(res, 400, { error: 'invalid control request', issues: e.issues });
    else if (e instanceof SyntaxError) reply(res, 400, { error: `invalid JSON: ${e.message}` });
    else if (e instanceof StripeApiError) reply(res, e.status, { error: e.body });
    else reply(res, 500, { error: String(e) });
  }
}

function route(emulator: Emulator, method: string, path: string, input: unknown): unknown {
  const key = `${method} ${path}`;
  const w = emulator.webhooks;
  switch (key) {
    case 'GET /_emulator/health':
      return { ok: true };
    case 'POST /_emulator/reset':
      emulator.reset();
      return { ok: true };
    case 'GET /_emulator/state':
      return { ...emulator.store.dump(), faults: emulator.faults.list, webhooks: webhookState(emulator) };
    case 'GET /_emulator/shapes':
      return { shapes: emulator.shapes.list() };
    case 'DELETE /_emulator/shapes':
      emulator.shapes.clear();
      return { ok: true };
    case 'GET /_emulator/cards':
      return { cards: testCards };
    case 'POST /_emulator/async': {
      const { delayMs } = asyncSchema.parse(input);
      emulator.asyncDelayMs = delayMs;
      return { delayMs };
    }
    case 'GET /_emulator/idempotency':
      return { keys: emulator.idempotency.list() };
    case 'POST /_emulator/idempotency/expire': {
      const { prefix } = expireSchema.parse(input);
      return { expired: emulator.idempotency.expire(prefix) };
    }
    case 'GET /_emulator/faults':
      return { faults: emulator.faults.list };
    case 'POST /_emulator/faults':
      return emulator.faults.add(input);
    case 'DELETE /_emulator/faults':
      emulator.faults.clear();
      return { ok: true };
    case 'GET /_emulator/chaos':
      return emulator.chaos.state();
    case 'POST /_emulator/chaos':
      return emulator.chaos.configure(input);
    case 'DELETE /_emulator/chaos':
      emulator.chaos.off();
      return emulator.chaos.state();
    case 'GET /_emulator/webhooks':
      return webhookState(emulator);
    case 'GET /_emulator/webhooks/endpoints':
      return { endpoints: w.endpoints };
    case 'POST /_emulator/webhooks/endpoints': {
      const { url, secret } = endpointSchema.parse(input);
      return w.addEndpoint(url, secret, 'runtime');
    }
    case 'DELETE /_emulator/webhooks/endpoints':
      w.removeRuntimeEndpoints();
      return { endpoints: w.endpoints };
    case 'POST /_emulator/webhooks/control': {
      const c = webhookControlSchema.parse(input);
      if (c.withhold !== undefined) w.controls.withhold = c.withhold;
      if (c.delayMs !== undefined) w.controls.delayMs = c.delayMs;
      if (c.duplicateNext !== undefined) w.controls.duplicateNext = c.duplicateNext;
      return { controls: w.controls };
    }
    case 'POST /_emulator/webhooks/release': {
      const { order } = releaseSchema.parse(input);
      w.controls.withhold = false;
      return { released: w.release(order) };
    }
    case 'POST /_emulator/webhooks/resend': {
      const { eventId } = resendSchema.parse(input);
      const event = emulator.store.events.get(eventId);
      if (!event) return { error: `no event ${eventId}` };
      w.resend(clone(event));
      return { ok: true };
    }
    case 'GET /_emulator/webhooks/deliveries':
      return { deliveries: w.attempts };
    case 'POST /_emulator/payment_methods': {
      const card = cardSchema.parse(input);
      const pm = paymentMethodFromNumber(emulator.store, card.number, {
        expMonth: card.exp_month,
        expYear: card.exp_year,
      });
      if (!pm) {
        throw new StripeApiError(402, {
          type: 'card_error',
          code: 'incorrect_number',
          message: `Your card number is incorrect (the emulator knows the test cards listed at GET /_emulator/cards).`,
        });
      }
      return pm;
    }
  }
  // The issuer starts declining a saved card (its funds ran out, it was reported lost): what 9995 does,
  // for a card already on file. Stripe refuses to attach a declining card, so a saved card can only get
  // there by changing after it was saved.
  const declineMatch = /^\/_emulator\/payment_methods\/([^/]+)\/decline_charges$/.exec(path);
  if (method === 'POST' && declineMatch) {
    const { decline_code } = declineChargesSchema.parse(input);
    const id = declineMatch[1] as string;
    if (!emulator.store.paymentMethods.has(id)) {
      throw new StripeApiError(404, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such PaymentMethod: '${id}'`,
      });
    }
    const info = emulator.store.cardInfo.get(id);
    emulator.store.cardInfo.set(id, {
      ...info,
      behavior: 'decline_after_attach',
      declineCode: decline_code,
      setupAuthenticated: info?.setupAuthenticated ?? false,
    });
    return { id, declineCharges: decline_code };
  }
  const objectMatch = /^\/_emulator\/(charges|disputes|refunds|payment_intents)\/([^/]+)\/([a-z_]+)$/.exec(
    path,
  );
  if (method === 'POST' && objectMatch) {
    const [, kind, id, action] = objectMatch as unknown as [string, string, string, string];
    const store = emulator.store;
    const { ctx, deferred } = emulator.context(null, null);
    let result: unknown;
    if (kind === 'charges' && action === 'dispute') {
      const opts = openDisputeSchema.parse(input);
      const charge = store.charges.get(id);
      if (!charge) throw resourceMissing('charge', id);
      result = openDispute(ctx, charge, opts);
    } else if (kind === 'disputes' && action === 'close') {
      const { outcome } = closeDisputeSchema.parse(input);
      const dispute = store.disputes.get(id);
      if (!dispute) throw resourceMissing('dispute', id);
      result = closeDispute(ctx, dispute, outcome);
    } else if (kind === 'refunds' && action === 'settle') {
      const { outcome, failure_reason } = settleRefundSchema.parse(input);
      const refund = store.refunds.get(id);
      if (!refund) throw resourceMissing('refund', id);
      result = settleRefund(ctx, refund, outcome, failure_reason);
    } else if (kind === 'payment_intents' && action === 'pend_next_refund') {
      if (!store.paymentIntents.has(id)) throw resourceMissing('payment_intent', id);
      store.pendNextRefund.add(id);
      result = { payment_intent: id, pendNextRefund: true };
    }
    if (result !== undefined) {
      emulator.runDeferred(deferred, DEFAULT_API_VERSION);
      return clone(result);
    }
  }
  const authMatch = /^\/_emulator\/(payment_intents|setup_intents)\/([^/]+)\/authenticate$/.exec(path);
  if (method === 'POST' && authMatch) {
    const { outcome } = authenticateSchema.parse(input);
    const { ctx, deferred } = emulator.context(null, null);
    const id = authMatch[2]!;
    if (authMatch[1] === 'payment_intents') {
      const pi = emulator.store.paymentIntents.get(id);
      if (!pi) return { error: `no PaymentIntent ${id}` };
      emulator.store.stats(id).confirmations++;
      const answer = clone(authenticatePaymentIntent(ctx, pi, outcome));
      emulator.runDeferred(deferred, DEFAULT_API_VERSION);
      return answer;
    }
    const si = emulator.store.setupIntents.get(id);
    if (!si) return { error: `no SetupIntent ${id}` };
    return authenticateSetupIntent(ctx, si, outcome);
  }
  return undefined;
}

function webhookState(emulator: Emulator) {
  const w = emulator.webhooks;
  return {
    endpoints: w.endpoints.map(({ secret: _secret, ...e }) => e),
    controls: w.controls,
    withheld: w.withheld.map((j) => ({ eventId: j.event.id, type: j.event.type, endpointId: j.endpoint.id })),
    pending: w.pending(),
    deliveries: w.attempts,
  };
}
