import { declineMessages } from '../cards';
import { listSpec, matchesCreated, paymentMethodTypes, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing, StripeApiError } from '../errors';
import { newId, nowSeconds, randomToken } from '../ids';
import { mergeMetadata } from '../params';
import { type Charge, clone, type PaymentIntent, type PaymentMethod, type Store } from '../state';
import { getCustomer } from './customers';
import { openDispute } from './disputes';
import { attachPaymentMethod, cardInfo, resolvePaymentMethod } from './payment-methods';
import { threeDSecureAction } from './setup-intents';

const confirmable = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const cancelable = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];
const minimumAmount: Record<string, number> = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, chf: 50 };

export function getPaymentIntent(ctx: RequestContext, id: string, param = 'id'): PaymentIntent {
  const pi = ctx.store.paymentIntents.get(id);
  if (!pi) throw resourceMissing('payment_intent', id, param);
  ctx.touchPaymentIntent(id);
  return pi;
}

function createCharge(
  ctx: RequestContext,
  pi: PaymentIntent,
  pm: PaymentMethod,
  failure: string | null,
): Charge {
  const now = nowSeconds();
  const ok = failure === null;
  const charge: Charge = {
    id: newId('ch'),
    object: 'charge',
    amount: pi.amount,
    amount_captured: ok ? pi.amount : 0,
    amount_refunded: 0,
    captured: ok,
    created: now,
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    failure_code: ok
      ? null
      : failure === 'authentication_required'
        ? 'authentication_required'
        : 'card_declined',
    failure_message: ok ? null : (declineMessages[failure] ?? 'Your card was declined.'),
    livemode: false,
    metadata: { ...pi.metadata },
    outcome: ok
      ? {
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          seller_message: 'Payment complete.',
          type: 'authorized',
        }
      : {
          network_status: 'declined_by_network',
          reason: failure,
          risk_level: 'normal',
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        },
    paid: ok,
    payment_intent: pi.id,
    payment_method: pm.id,
    refunded: false,
    disputed: false,
    status: ok ? 'succeeded' : 'failed',
  };
  ctx.store.charges.set(charge.id, charge);
  ctx.store.stats(pi.id).chargeAttempts++;
  pi.latest_charge = charge.id;
  return charge;
}

function succeed(ctx: RequestContext, pi: PaymentIntent, pm: PaymentMethod): PaymentIntent {
  const charge = createCharge(ctx, pi, pm, null);
  pi.status = 'succeeded';
  pi.amount_received = pi.amount;
  pi.next_action = null;
  pi.last_payment_error = null;
  pi.payment_method = pm.id;
  if (pi.setup_future_usage && pi.customer && pm.customer === null) attachPaymentMethod(ctx, pm, pi.customer);
  ctx.emit('charge.succeeded', clone(charge));
  ctx.emit('payment_intent.succeeded', clone(pi));
  if (cardInfo(ctx.store, pm.id).afterCharge === 'dispute') {
    // 0259: the issuer disputes the charge as fraudulent shortly after it succeeded.
    const chargeId = charge.id;
    ctx.defer((later) => {
      const c = later.store.charges.get(chargeId);
      if (c && !c.disputed) openDispute(later, c);
    });
  }
  return pi;
}

/** A declined attempt: failed charge, PaymentIntent back to `requires_payment_method`, 402 card_error. */
function decline(ctx: RequestContext, pi: PaymentIntent, pm: PaymentMethod, declineCode: string): never {
  const charge = createCharge(ctx, pi, pm, declineCode);
  const code = declineCode === 'authentication_required' ? 'authentication_required' : 'card_declined';
  const message = declineMessages[declineCode] ?? 'Your card was declined.';
  const docUrl = `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.next_action = null;
  pi.last_payment_error = {
    type: 'card_error',
    code,
    decline_code: declineCode,
    message,
    doc_url: docUrl,
    charge: charge.id,
    payment_method: clone(pm),
  };
  ctx.emit('charge.failed', clone(charge));
  ctx.emit('payment_intent.payment_failed', clone(pi));
  throw new StripeApiError(402, {
    type: 'card_error',
    code,
    decline_code: declineCode,
    message,
    doc_url: docUrl,
    charge: charge.id,
    payment_intent: clone(pi),
    payment_method: clone(pm),
    request_log_url: `https://dashboard.stripe.com/test/logs/${ctx.requestId}`,
  });
}

function confirm(
  ctx: RequestContext,
  pi: PaymentIntent,
  opts: { paymentMethod?: string; offSession: boolean; returnUrl?: string; errorOnRequiresAction?: boolean },
): PaymentIntent {
  if (!confirmable.includes(pi.status)) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'payment_intent_unexpected_state',
      message:
        pi.status === 'succeeded'
          ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
          : `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`,
      doc_url: 'https://stripe.com/docs/error-codes/payment-intent-unexpected-state',
      payment_intent: clone(pi),
    });
  }
  const pmId = opts.paymentMethod ?? pi.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
      { code: 'payment_intent_unexpected_state' },
    );
  }
  const pm = resolvePaymentMethod(ctx, pmId, 'payment_method');
  if (pm.customer !== null && pm.customer !== pi.customer) {
    throw invalidRequest(
      pi.customer === null
        ? 'The provided PaymentMethod belongs to a Customer; pass `customer` along with the PaymentMethod.'
        : 'The provided PaymentMethod belongs to a different Customer than the PaymentIntent.',
      { param: 'payment_method' },
    );
  }
  pi.payment_method = pm.id;
  ctx.store.stats(pi.id).confirmations++;
  const info = cardInfo(ctx.store, pm.id);
  switch (info.behavior) {
    case 'succeed':
      return succeed(ctx, pi, pm);
    case 'decline':
    case 'decline_after_attach':
      return decline(ctx, pi, pm, info.declineCode ?? 'generic_decline');
    case 'authenticate_on_setup':
    case 'authenticate_always': {
      if (info.behavior === 'authenticate_on_setup' && info.setupAuthenticated && opts.offSession) {
        return succeed(ctx, pi, pm);
      }
      if (opts.offSession || opts.errorOnRequiresAction)
        return decline(ctx, pi, pm, 'authentication_required');
      pi.status = 'requires_action';
      pi.next_action = threeDSecureAction(pi.id, opts.returnUrl);
      ctx.emit('payment_intent.requires_action', clone(pi));
      return pi;
    }
  }
}

/** Test-only: the customer completes or fails the 3-D Secure challenge of a PaymentIntent in `requires_action`. */
export function authenticatePaymentIntent(
  ctx: RequestContext,
  pi: PaymentIntent,
  outcome: 'succeed' | 'fail',
) {
  if (pi.status !== 'requires_action') {
    throw invalidRequest(`PaymentIntent ${pi.id} is not awaiting authentication (status ${pi.status}).`, {
      code: 'payment_intent_unexpected_state',
    });
  }
  const pm = ctx.store.paymentMethods.get(pi.payment_method!)!;
  if (outcome === 'succeed') return succeed(ctx, pi, pm);
  pi.status = 'requires_payment_method';
  pi.next_action = null;
  pi.payment_method = null;
  pi.last_payment_error = {
    type: 'invalid_request_error',
    code: 'payment_intent_authentication_failure',
    message:
      'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
    payment_method: clone(pm),
  };
  ctx.emit('payment_intent.payment_failed', clone(pi));
  return pi;
}

function parseOffSession(value: unknown): boolean {
  return value === 'true' || value === 'one_off' || value === 'recurring';
}

export const paymentIntentRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/payment_intents',
    spec: {
      amount: { t: 'int', required: true, min: 1, max: 99_999_999 },
      currency: { t: 'string', required: true },
      customer: { t: 'string' },
      payment_method: { t: 'string' },
      payment_method_types: { t: 'strings', enum: ['card'] },
      allowed_payment_method_types: { t: 'strings', enum: ['card'] },
      excluded_payment_method_types: { t: 'ignored' },
      confirm: { t: 'bool' },
      off_session: { t: 'string', enum: ['true', 'false', 'one_off', 'recurring'] },
      error_on_requires_action: { t: 'bool' },
      metadata: { t: 'metadata' },
      description: { t: 'string', emptyable: true },
      receipt_email: { t: 'string', emptyable: true },
      statement_descriptor: { t: 'string' },
      statement_descriptor_suffix: { t: 'string' },
      setup_future_usage: { t: 'string', enum: ['off_session', 'on_session'] },
      capture_method: { t: 'string', enum: ['automatic', 'automatic_async'] },
      confirmation_method: { t: 'string', enum: ['automatic'] },
      return_url: { t: 'string' },
      automatic_payment_methods: { t: 'ignored' },
      payment_method_options: { t: 'ignored' },
      mandate_data: { t: 'ignored' },
      use_stripe_sdk: { t: 'ignored' },
    },
    handler(ctx) {
      const p = ctx.params;
      const currency = (p.currency as string).toLowerCase();
      const amount = p.amount as number;
      const min = minimumAmount[currency] ?? 1;
      if (amount < min) {
        throw invalidRequest(`Amount must be at least ${min} ${currency}`, {
          code: 'amount_too_small',
          param: 'amount',
        });
      }
      if (p.off_session !== undefined && p.confirm !== true) {
        throw invalidRequest('You can only pass `off_session` when `confirm` is `true`.', {
          code: 'parameter_invalid_string',
          param: 'off_session',
        });
      }
      const types = paymentMethodTypes(ctx);
      if (p.customer) getCustomer(ctx, p.customer as string, 'customer');
      const pm = p.payment_method
        ? resolvePaymentMethod(ctx, p.payment_method as string, 'payment_method')
        : null;
      const id = newId('pi');
      const pi: PaymentIntent = {
        id,
        object: 'payment_intent',
        amount,
        amount_capturable: 0,
        amount_received: 0,
        canceled_at: null,
        cancellation_reason: null,
        capture_method: 'automatic',
        client_secret: `${id}_secret_${randomToken(24)}`,
        confirmation_method: 'automatic',
        created: nowSeconds(),
        currency,
        customer: (p.customer as string | undefined) ?? null,
        description: (p.description as string | null | undefined) ?? null,
        last_payment_error: null,
        latest_charge: null,
        livemode: false,
        metadata: mergeMetadata({}, p.metadata),
        next_action: null,
        payment_method: pm?.id ?? null,
        payment_method_types: types ?? ['card'],
        allowed_payment_method_types: types,
        receipt_email: (p.receipt_email as string | null | undefined) ?? null,
        setup_future_usage: (p.setup_future_usage as string | undefined) ?? null,
        statement_descriptor: (p.statement_descriptor as string | undefined) ?? null,
        status: pm ? 'requires_confirmation' : 'requires_payment_method',
      };
      ctx.store.paymentIntents.set(pi.id, pi);
      ctx.store.stats(pi.id).creates++;
      ctx.touchPaymentIntent(pi.id);
      ctx.emit('payment_intent.created', clone(pi));
      if (p.confirm === true) {
        return confirm(ctx, pi, {
          offSession: parseOffSession(p.off_session),
          returnUrl: p.return_url as string | undefined,
          errorOnRequiresAction: p.error_on_requires_action === true,
        });
      }
      return pi;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/payment_intents/:id',
    spec: { client_secret: { t: 'string' } },
    handler: (ctx) => getPaymentIntent(ctx, ctx.pathParams.id!),
  },
  {
    method: 'GET',
    pattern: '/v1/payment_intents',
    spec: { ...listSpec, customer: { t: 'string' }, created: { t: 'range' } },
    handler(ctx) {
      const customer = ctx.params.customer as string | undefined;
      return ctx.store.paymentIntents.list(ctx.params, '/v1/payment_intents', {
        ...(customer ? { index: ['customer', customer] as [string, string] } : {}),
        where: (pi) => matchesCreated(pi.created, ctx.params.created),
      });
    },
  },
  {
    method: 'POST',
    pattern: '/v1/payment_intents/:id/confirm',
    spec: {
      payment_method: { t: 'string' },
      off_session: { t: 'string', enum: ['true', 'false', 'one_off', 'recurring'] },
      error_on_requires_action: { t: 'bool' },
      return_url: { t: 'string' },
      setup_future_usage: { t: 'string', enum: ['off_session', 'on_session'], emptyable: true },
      receipt_email: { t: 'string', emptyable: true },
      client_secret: { t: 'string' },
      payment_method_options: { t: 'ignored' },
      mandate_data: { t: 'ignored' },
      use_stripe_sdk: { t: 'ignored' },
    },
    handler(ctx) {
      const pi = getPaymentIntent(ctx, ctx.pathParams.id!);
      const p = ctx.params;
      if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage as string | null;
      return confirm(ctx, pi, {
        paymentMethod: p.payment_method as string | undefined,
        offSession: parseOffSession(p.off_session),
        returnUrl: p.return_url as string | undefined,
        errorOnRequiresAction: p.error_on_requires_action === true,
      });
    },
  },
  {
    method: 'POST',
    pattern: '/v1/payment_intents/:id/cancel',
    spec: {
      cancellation_reason: {
        t: 'string',
        enum: ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'],
      },
    },
    handler(ctx) {
      const pi = getPaymentIntent(ctx, ctx.pathParams.id!);
      if (!cancelable.includes(pi.status)) {
        throw new StripeApiError(400, {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancelable.join(', ')}.`,
          doc_url: 'https://stripe.com/docs/error-codes/payment-intent-unexpected-state',
          payment_intent: clone(pi),
        });
      }
      pi.status = 'canceled';
      pi.canceled_at = nowSeconds();
      pi.next_action = null;
      pi.cancellation_reason = (ctx.params.cancellation_reason as string | undefined) ?? null;
      ctx.emit('payment_intent.canceled', clone(pi));
      return pi;
    },
  },
];

export function getCharge(store: Store, id: string, param = 'id'): Charge {
  const ch = store.charges.get(id);
  if (!ch) throw resourceMissing('charge', id, param);
  return ch;
}

export const chargeRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/charges/:id',
    spec: {},
    handler: (ctx) => getCharge(ctx.store, ctx.pathParams.id!),
  },
  {
    method: 'GET',
    pattern: '/v1/charges',
    spec: {
      ...listSpec,
      customer: { t: 'string' },
      payment_intent: { t: 'string' },
      created: { t: 'range' },
    },
    handler(ctx) {
      const { customer, payment_intent } = ctx.params as { customer?: string; payment_intent?: string };
      const index: [string, string] | undefined = payment_intent
        ? ['payment_intent', payment_intent]
        : customer
          ? ['customer', customer]
          : undefined;
      return ctx.store.charges.list(ctx.params, '/v1/charges', {
        ...(index ? { index } : {}),
        where: (c) =>
          (!customer || c.customer === customer) &&
          (!payment_intent || c.payment_intent === payment_intent) &&
          matchesCreated(c.created, ctx.params.created),
      });
    },
  },
];
