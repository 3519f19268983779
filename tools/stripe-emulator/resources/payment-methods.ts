import { createHash } from 'node:crypto';
import { cardByNumber, cardByToken, declineMessages, type TestCard } from '../cards';
import { listSpec, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing, StripeApiError } from '../errors';
import { newId, nowSeconds } from '../ids';
import { mergeMetadata } from '../params';
import { type CardInfo, clone, type PaymentMethod, type Store } from '../state';

export function createCardPaymentMethod(
  store: Store,
  card: TestCard,
  opts: { expMonth?: number; expYear?: number } = {},
): PaymentMethod {
  const pm: PaymentMethod = {
    id: newId('pm'),
    object: 'payment_method',
    type: 'card',
    created: nowSeconds(),
    customer: null,
    metadata: {},
    livemode: false,
    allow_redisplay: 'unspecified',
    billing_details: { address: null, email: null, name: null, phone: null },
    card: {
      brand: card.brand,
      country: 'US',
      exp_month: opts.expMonth ?? 12,
      exp_year: opts.expYear ?? new Date().getUTCFullYear() + 3,
      fingerprint: createHash('sha256').update(card.number).digest('base64url').slice(0, 16),
      funding: card.funding,
      last4: card.number.slice(-4),
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      networks: { available: [card.brand], preferred: null },
      three_d_secure_usage: { supported: true },
      wallet: null,
      display_brand: card.brand,
      generated_from: null,
      regulated_status: 'unregulated',
    },
  };
  const info: CardInfo = { behavior: card.behavior, setupAuthenticated: false };
  if (card.declineCode) info.declineCode = card.declineCode;
  if (card.afterCharge) info.afterCharge = card.afterCharge;
  if (card.refund) info.refund = card.refund;
  store.paymentMethods.set(pm.id, pm);
  store.cardInfo.set(pm.id, info);
  return pm;
}

/**
 * A PaymentMethod id, or one of Stripe's test tokens (`pm_card_visa`, …), which, as in Stripe, produces a
 * fresh PaymentMethod each time it is used.
 */
export function resolvePaymentMethod(ctx: RequestContext, idOrToken: string, param: string): PaymentMethod {
  const existing = ctx.store.paymentMethods.get(idOrToken);
  if (existing) return existing;
  const card = cardByToken(idOrToken);
  if (card) return createCardPaymentMethod(ctx.store, card);
  throw resourceMissing('payment_method', idOrToken, param);
}

export function cardInfo(store: Store, pmId: string): CardInfo {
  return store.cardInfo.get(pmId) ?? { behavior: 'succeed', setupAuthenticated: false };
}

export function cardDeclinedError(
  pm: PaymentMethod,
  declineCode: string,
  extra: { charge?: string; payment_intent?: unknown; setup_intent?: unknown } = {},
): StripeApiError {
  return new StripeApiError(402, {
    type: 'card_error',
    code: 'card_declined',
    decline_code: declineCode,
    message: declineMessages[declineCode] ?? 'Your card was declined.',
    doc_url: 'https://stripe.com/docs/error-codes/card-declined',
    request_log_url: 'https://dashboard.stripe.com/test/logs',
    payment_method: clone(pm),
    ...extra,
  });
}

/** Attaches (as `paymentMethods.attach` and a successful SetupIntent do); declining cards fail here. */
export function attachPaymentMethod(
  ctx: RequestContext,
  pm: PaymentMethod,
  customerId: string,
): PaymentMethod {
  if (!ctx.store.customers.has(customerId)) throw resourceMissing('customer', customerId, 'customer');
  if (pm.customer === customerId) return pm;
  if (pm.customer !== null) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', {
      param: 'payment_method',
    });
  }
  const info = cardInfo(ctx.store, pm.id);
  if (info.behavior === 'decline') throw cardDeclinedError(pm, info.declineCode ?? 'generic_decline');
  pm.customer = customerId;
  ctx.emit('payment_method.attached', clone(pm));
  return pm;
}

function detach(ctx: RequestContext, pm: PaymentMethod): PaymentMethod {
  if (pm.customer === null) {
    throw invalidRequest(
      'The payment method you provided is not attached to a customer so detachment is impossible.',
      { param: 'payment_method' },
    );
  }
  const customer = ctx.store.customers.get(pm.customer);
  if (customer && customer.invoice_settings.default_payment_method === pm.id) {
    customer.invoice_settings.default_payment_method = null;
  }
  pm.customer = null;
  ctx.emit('payment_method.detached', clone(pm), { customer: customer?.id ?? null });
  return pm;
}

function listByCustomer(ctx: RequestContext, customerId: string | undefined, url: string) {
  if (customerId !== undefined && !ctx.store.customers.has(customerId)) {
    throw resourceMissing('customer', customerId, 'customer');
  }
  return customerId === undefined
    ? ctx.store.paymentMethods.list(ctx.params, url, { where: (pm) => pm.customer !== null })
    : ctx.store.paymentMethods.list(ctx.params, url, { index: ['customer', customerId] });
}

export const paymentMethodRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/payment_methods/:id',
    spec: {},
    handler: (ctx) => resolvePaymentMethod(ctx, ctx.pathParams.id!, 'id'),
  },
  {
    method: 'POST',
    pattern: '/v1/payment_methods/:id',
    spec: {
      metadata: { t: 'metadata' },
      billing_details: { t: 'ignored' },
      allow_redisplay: { t: 'ignored' },
    },
    handler(ctx) {
      const pm = resolvePaymentMethod(ctx, ctx.pathParams.id!, 'id');
      pm.metadata = mergeMetadata(pm.metadata, ctx.params.metadata);
      ctx.emit('payment_method.updated', clone(pm));
      return pm;
    },
  },
  {
    method: 'POST',
    pattern: '/v1/payment_methods/:id/attach',
    spec: { customer: { t: 'string', required: true } },
    handler(ctx) {
      const pm = resolvePaymentMethod(ctx, ctx.pathParams.id!, 'id');
      return attachPaymentMethod(ctx, pm, ctx.params.customer as string);
    },
  },
  {
    method: 'POST',
    pattern: '/v1/payment_methods/:id/detach',
    spec: {},
    handler(ctx) {
      const pm = ctx.store.paymentMethods.get(ctx.pathParams.id!);
      if (!pm) throw resourceMissing('payment_method', ctx.pathParams.id!);
      return detach(ctx, pm);
    },
  },
  {
    method: 'GET',
    pattern: '/v1/payment_methods',
    spec: { ...listSpec, customer: { t: 'string' }, type: { t: 'string', enum: ['card'] } },
    handler: (ctx) => listByCustomer(ctx, ctx.params.customer as string | undefined, '/v1/payment_methods'),
  },
  {
    method: 'GET',
    pattern: '/v1/customers/:id/payment_methods',
    spec: { ...listSpec, type: { t: 'string', enum: ['card'] } },
    handler: (ctx) =>
      listByCustomer(ctx, ctx.pathParams.id!, `/v1/customers/${ctx.pathParams.id}/payment_methods`),
  },
];

/** Test-only: a PaymentMethod from a raw test card number (Stripe.js does this in a browser). */
export function paymentMethodFromNumber(
  store: Store,
  number: string,
  opts: { expMonth?: number; expYear?: number } = {},
): PaymentMethod | null {
  const card = cardByNumber(number);
  return card ? createCardPaymentMethod(store, card, opts) : null;
}
