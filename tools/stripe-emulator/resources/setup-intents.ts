import { listSpec, paymentMethodTypes, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing, StripeApiError } from '../errors';
import { newId, nowSeconds, randomToken } from '../ids';
import { mergeMetadata } from '../params';
import { clone, type NextAction, type SetupIntent, type Store } from '../state';
import { getCustomer } from './customers';
import { attachPaymentMethod, cardDeclinedError, cardInfo, resolvePaymentMethod } from './payment-methods';

export function getSetupIntent(store: Store, id: string): SetupIntent {
  const si = store.setupIntents.get(id);
  if (!si) throw resourceMissing('setup_intent', id);
  return si;
}

export function threeDSecureAction(id: string, returnUrl: string | undefined): NextAction {
  if (returnUrl) {
    return {
      type: 'redirect_to_url',
      redirect_to_url: {
        url: `https://hooks.stripe.com/3d_secure_2/hosted?intent=${id}`,
        return_url: returnUrl,
      },
    };
  }
  return {
    type: 'use_stripe_sdk',
    use_stripe_sdk: {
      type: 'three_d_secure_redirect',
      stripe_js: `https://hooks.stripe.com/redirect/authenticate/${id}`,
      source: newId('src'),
    },
  };
}

function confirmSetupIntent(
  ctx: RequestContext,
  si: SetupIntent,
  pmParam: string | undefined,
  returnUrl?: string,
) {
  if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(si.status)) {
    throw invalidRequest(
      `You cannot confirm this SetupIntent because it has already ${si.status === 'canceled' ? 'been canceled' : 'succeeded'}.`,
      { code: 'setup_intent_unexpected_state' },
    );
  }
  const pmId = pmParam ?? si.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.",
      { code: 'setup_intent_unexpected_state' },
    );
  }
  const pm = resolvePaymentMethod(ctx, pmId, 'payment_method');
  if (si.customer && pm.customer && pm.customer !== si.customer) {
    throw invalidRequest('The provided PaymentMethod is attached to another customer.', {
      param: 'payment_method',
    });
  }
  const info = cardInfo(ctx.store, pm.id);
  if (info.behavior === 'decline') {
    const declineCode = info.declineCode ?? 'generic_decline';
    const err = cardDeclinedError(pm, declineCode);
    si.status = 'requires_payment_method';
    si.payment_method = null;
    si.next_action = null;
    si.last_setup_error = {
      type: 'card_error',
      code: 'card_declined',
      decline_code: declineCode,
      message: err.body.message,
      doc_url: err.body.doc_url ?? '',
      payment_method: clone(pm),
    };
    ctx.emit('setup_intent.setup_failed', clone(si));
    throw new StripeApiError(402, { ...err.body, setup_intent: clone(si) });
  }
  si.payment_method = pm.id;
  si.last_setup_error = null;
  if (info.behavior === 'authenticate_always' || info.behavior === 'authenticate_on_setup') {
    si.status = 'requires_action';
    si.next_action = threeDSecureAction(si.id, returnUrl);
    ctx.emit('setup_intent.requires_action', clone(si));
    return si;
  }
  return succeedSetup(ctx, si);
}

function succeedSetup(ctx: RequestContext, si: SetupIntent): SetupIntent {
  const pm = ctx.store.paymentMethods.get(si.payment_method!)!;
  if (si.customer) attachPaymentMethod(ctx, pm, si.customer);
  si.status = 'succeeded';
  si.next_action = null;
  ctx.emit('setup_intent.succeeded', clone(si));
  return si;
}

/** Test-only: the customer completes or fails the 3-D Secure challenge of a SetupIntent in `requires_action`. */
export function authenticateSetupIntent(ctx: RequestContext, si: SetupIntent, outcome: 'succeed' | 'fail') {
  if (si.status !== 'requires_action') {
    throw invalidRequest(`SetupIntent ${si.id} is not awaiting authentication (status ${si.status}).`, {
      code: 'setup_intent_unexpected_state',
    });
  }
  const pm = ctx.store.paymentMethods.get(si.payment_method!)!;
  if (outcome === 'succeed') {
    cardInfo(ctx.store, pm.id).setupAuthenticated = true;
    return succeedSetup(ctx, si);
  }
  si.status = 'requires_payment_method';
  si.next_action = null;
  si.payment_method = null;
  si.last_setup_error = {
    type: 'invalid_request_error',
    code: 'setup_intent_authentication_failure',
    message:
      'The latest attempt to set up the payment method has failed because authentication failed. Provide a new payment method to attempt to set it up again.',
    doc_url: 'https://stripe.com/docs/error-codes/setup-intent-authentication-failure',
    payment_method: clone(pm),
  };
  ctx.emit('setup_intent.setup_failed', clone(si));
  return si;
}

export const setupIntentRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/setup_intents',
    spec: {
      customer: { t: 'string' },
      usage: { t: 'string', enum: ['off_session', 'on_session'] },
      payment_method_types: { t: 'strings', enum: ['card'] },
      allowed_payment_method_types: { t: 'strings', enum: ['card'] },
      excluded_payment_method_types: { t: 'ignored' },
      payment_method: { t: 'string' },
      metadata: { t: 'metadata' },
      description: { t: 'string', emptyable: true },
      confirm: { t: 'bool' },
      return_url: { t: 'string' },
      automatic_payment_methods: { t: 'ignored' },
      payment_method_options: { t: 'ignored' },
      mandate_data: { t: 'ignored' },
      use_stripe_sdk: { t: 'ignored' },
    },
    handler(ctx) {
      const p = ctx.params;
      const types = paymentMethodTypes(ctx);
      if (p.customer) getCustomer(ctx, p.customer as string, 'customer');
      const id = newId('seti');
      const si: SetupIntent = {
        id,
        object: 'setup_intent',
        client_secret: `${id}_secret_${randomToken(32)}`,
        created: nowSeconds(),
        customer: (p.customer as string | undefined) ?? null,
        description: (p.description as string | null | undefined) ?? null,
        last_setup_error: null,
        latest_attempt: null,
        livemode: false,
        metadata: mergeMetadata({}, p.metadata),
        next_action: null,
        payment_method: null,
        payment_method_types: types ?? ['card'],
        allowed_payment_method_types: types,
        status: 'requires_payment_method',
        usage: (p.usage as 'off_session' | 'on_session' | undefined) ?? 'off_session',
        cancellation_reason: null,
      };
      if (p.payment_method) {
        si.payment_method = resolvePaymentMethod(ctx, p.payment_method as string, 'payment_method').id;
        si.status = 'requires_confirmation';
      }
      ctx.store.setupIntents.set(si.id, si);
      ctx.emit('setup_intent.created', clone(si));
      if (p.confirm === true)
        return confirmSetupIntent(ctx, si, undefined, p.return_url as string | undefined);
      return si;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/setup_intents/:id',
    spec: { client_secret: { t: 'string' } },
    handler: (ctx) => getSetupIntent(ctx.store, ctx.pathParams.id!),
  },
  {
    method: 'GET',
    pattern: '/v1/setup_intents',
    spec: {
      ...listSpec,
      customer: { t: 'string' },
      payment_method: { t: 'string' },
      created: { t: 'range' },
    },
    handler(ctx) {
      const customer = ctx.params.customer as string | undefined;
      return ctx.store.setupIntents.list(
        ctx.params,
        '/v1/setup_intents',
        customer ? { index: ['customer', customer] } : {},
      );
    },
  },
  {
    method: 'POST',
    pattern: '/v1/setup_intents/:id/confirm',
    spec: {
      payment_method: { t: 'string' },
      return_url: { t: 'string' },
      mandate_data: { t: 'ignored' },
      payment_method_options: { t: 'ignored' },
      use_stripe_sdk: { t: 'ignored' },
      client_secret: { t: 'string' },
    },
    handler(ctx) {
      const si = getSetupIntent(ctx.store, ctx.pathParams.id!);
      return confirmSetupIntent(
        ctx,
        si,
        ctx.params.payment_method as string | undefined,
        ctx.params.return_url as string | undefined,
      );
    },
  },
  {
    method: 'POST',
    pattern: '/v1/setup_intents/:id/cancel',
    spec: { cancellation_reason: { t: 'string', enum: ['abandoned', 'duplicate', 'requested_by_customer'] } },
    handler(ctx) {
      const si = getSetupIntent(ctx.store, ctx.pathParams.id!);
      if (si.status === 'succeeded' || si.status === 'canceled') {
        throw invalidRequest(
          `You cannot cancel this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be canceled: requires_payment_method, requires_confirmation, requires_action.`,
          { code: 'setup_intent_unexpected_state' },
        );
      }
      si.status = 'canceled';
      si.next_action = null;
      si.cancellation_reason = (ctx.params.cancellation_reason as string | undefined) ?? null;
      ctx.emit('setup_intent.canceled', clone(si));
      return si;
    },
  },
];
