import { listSpec, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing } from '../errors';
import { newId, nowSeconds } from '../ids';
import { mergeMetadata, type Spec } from '../params';
import { type Customer, clone } from '../state';
import { attachPaymentMethod, resolvePaymentMethod } from './payment-methods';

const invoiceSettings: Spec = {
  default_payment_method: { t: 'string', emptyable: true },
  custom_fields: { t: 'ignored' },
  footer: { t: 'ignored' },
  rendering_options: { t: 'ignored' },
};

const updatable: Spec = {
  email: { t: 'string', emptyable: true },
  name: { t: 'string', emptyable: true },
  description: { t: 'string', emptyable: true },
  phone: { t: 'string', emptyable: true },
  metadata: { t: 'metadata' },
  invoice_settings: { t: 'object', fields: invoiceSettings },
  address: { t: 'ignored' },
  preferred_locales: { t: 'ignored' },
};

export function getCustomer(ctx: RequestContext, id: string, param = 'id'): Customer {
  const c = ctx.store.customers.get(id);
  if (!c) throw resourceMissing('customer', id, param);
  return c;
}

function applyUpdate(ctx: RequestContext, c: Customer): void {
  const p = ctx.params;
  for (const key of ['email', 'name', 'description', 'phone'] as const) {
    if (p[key] !== undefined) c[key] = p[key] as string | null;
  }
  c.metadata = mergeMetadata(c.metadata, p.metadata);
  const inv = p.invoice_settings as { default_payment_method?: string | null } | undefined;
  if (inv && inv.default_payment_method !== undefined) {
    const pmId = inv.default_payment_method;
    if (pmId !== null) {
      const pm = ctx.store.paymentMethods.get(pmId);
      if (!pm || pm.customer !== c.id) {
        throw invalidRequest(
          `The customer does not have a payment method with the ID ${pmId}. The payment method must be attached to the customer.`,
          { code: 'resource_missing', param: 'invoice_settings[default_payment_method]' },
        );
      }
    }
    c.invoice_settings.default_payment_method = pmId;
  }
}

export const customerRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/customers',
    spec: { ...updatable, payment_method: { t: 'string' } },
    handler(ctx) {
      const c: Customer = {
        id: newId('cus'),
        object: 'customer',
        created: nowSeconds(),
        description: null,
        email: null,
        name: null,
        phone: null,
        metadata: {},
        invoice_settings: {
          custom_fields: null,
          default_payment_method: null,
          footer: null,
          rendering_options: null,
        },
        livemode: false,
      };
      const pmParam = ctx.params.payment_method as string | undefined;
      ctx.store.customers.set(c.id, c);
      try {
        if (pmParam) {
          const pm = resolvePaymentMethod(ctx, pmParam, 'payment_method');
          attachPaymentMethod(ctx, pm, c.id);
        }
        applyUpdate(ctx, c);
      } catch (e) {
        ctx.store.customers.delete(c.id);
        throw e;
      }
      ctx.emit('customer.created', clone(c));
      return c;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/customers/:id',
    spec: {},
    handler: (ctx) => getCustomer(ctx, ctx.pathParams.id!),
  },
  {
    method: 'POST',
    pattern: '/v1/customers/:id',
    spec: updatable,
    handler(ctx) {
      const c = getCustomer(ctx, ctx.pathParams.id!);
      const before = clone(c);
      const next = clone(c);
      applyUpdate(ctx, next);
      ctx.store.customers.set(c.id, next);
      const previous: Record<string, unknown> = {};
      for (const k of Object.keys(next) as (keyof Customer)[]) {
        if (JSON.stringify(before[k]) !== JSON.stringify(next[k])) previous[k] = before[k];
      }
      ctx.emit('customer.updated', clone(next), previous);
      return next;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/customers',
    spec: { ...listSpec, email: { t: 'string' }, created: { t: 'range' } },
    handler(ctx) {
      const email = ctx.params.email as string | undefined;
      return ctx.store.customers.list(ctx.params, '/v1/customers', email ? { index: ['email', email] } : {});
    },
  },
];
