/**
 * Every request shape the product's activities and these tests send to Stripe, defined once and run in order
 * against stripe-mock (which validates shapes against Stripe's OpenAPI spec) and against the emulator (which
 * must accept the same sequence with real semantics). Each step may use ids returned by earlier steps.
 */
import type Stripe from 'stripe';

export interface ShapeContext {
  customer?: string;
  setupIntent?: string;
  paymentMethod?: string;
  paymentIntent?: string;
  openPaymentIntent?: string;
  refund?: string;
  charge?: string;
  event?: string;
  extraPaymentMethod?: string;
}

export interface RequestShape {
  name: string;
  run(stripe: Stripe, ctx: ShapeContext): Promise<unknown>;
}

const id = (v: string | undefined, what: string): string => {
  if (!v) throw new Error(`missing ${what} from an earlier step`);
  return v;
};

export const requestShapes: RequestShape[] = [
  {
    name: 'customers.create (email, name, metadata)',
    async run(s, ctx) {
      const c = await s.customers.create(
        { email: 'shape@example.com', name: 'Shape Org', metadata: { org_id: 'org_1' } },
        { idempotencyKey: 'shape-customer-1' },
      );
      ctx.customer = c.id;
    },
  },
  {
    name: 'customers.create (email) and (no parameters)',
    async run(s) {
      await s.customers.create({ email: 'shape-2@example.com' });
      await s.customers.create({});
    },
  },
  { name: 'customers.retrieve', run: (s, ctx) => s.customers.retrieve(id(ctx.customer, 'customer')) },
  {
    name: 'setupIntents.create (customer, usage, allowed_payment_method_types, metadata)',
    async run(s, ctx) {
      const si = await s.setupIntents.create({
        customer: id(ctx.customer, 'customer'),
        usage: 'off_session',
        allowed_payment_method_types: ['card'],
        metadata: { org_id: 'org_1' },
      });
      ctx.setupIntent = si.id;
    },
  },
  {
    name: 'setupIntents.confirm (payment_method)',
    async run(s, ctx) {
      const si = await s.setupIntents.confirm(id(ctx.setupIntent, 'setup intent'), {
        payment_method: 'pm_card_visa',
      });
      ctx.paymentMethod = typeof si.payment_method === 'string' ? si.payment_method : si.payment_method?.id;
    },
  },
  {
    name: 'setupIntents.create + confirm (payment_method, return_url)',
    async run(s, ctx) {
      const si = await s.setupIntents.create({
        customer: id(ctx.customer, 'customer'),
        usage: 'off_session',
        allowed_payment_method_types: ['card'],
      });
      await s.setupIntents.confirm(si.id, {
        payment_method: 'pm_card_visa',
        return_url: 'https://example.com/return',
      });
    },
  },
  {
    name: 'setupIntents.retrieve',
    run: (s, ctx) => s.setupIntents.retrieve(id(ctx.setupIntent, 'setup intent')),
  },
  {
    name: 'setupIntents.create + cancel',
    async run(s, ctx) {
      const si = await s.setupIntents.create({
        customer: id(ctx.customer, 'customer'),
        usage: 'off_session',
      });
      await s.setupIntents.cancel(si.id, { cancellation_reason: 'abandoned' });
    },
  },
  {
    name: 'customers.update (invoice_settings.default_payment_method, metadata)',
    run: (s, ctx) =>
      s.customers.update(id(ctx.customer, 'customer'), {
        invoice_settings: { default_payment_method: id(ctx.paymentMethod, 'payment method') },
        metadata: { stripe_sync: 'yes' },
      }),
  },
  {
    name: 'customers.update (invoice_settings.default_payment_method)',
    run: (s, ctx) =>
      s.customers.update(id(ctx.customer, 'customer'), {
        invoice_settings: { default_payment_method: id(ctx.paymentMethod, 'payment method') },
      }),
  },
  {
    name: 'paymentMethods.list (customer, type)',
    run: (s, ctx) =>
      s.paymentMethods.list({ customer: id(ctx.customer, 'customer'), type: 'card', limit: 10 }),
  },
  {
    name: 'customers.listPaymentMethods',
    run: (s, ctx) => s.customers.listPaymentMethods(id(ctx.customer, 'customer'), { limit: 10 }),
  },
  {
    name: 'paymentMethods.retrieve',
    run: (s, ctx) => s.paymentMethods.retrieve(id(ctx.paymentMethod, 'payment method')),
  },
  {
    name: 'paymentMethods.attach',
    async run(s, ctx) {
      const pm = await s.paymentMethods.attach('pm_card_mastercard', {
        customer: id(ctx.customer, 'customer'),
      });
      ctx.extraPaymentMethod = pm.id;
    },
  },
  {
    name: 'paymentMethods.detach',
    run: (s, ctx) => s.paymentMethods.detach(id(ctx.extraPaymentMethod, 'payment method')),
  },
  {
    name: 'paymentIntents.create (confirm, off_session, metadata, idempotency key)',
    async run(s, ctx) {
      const pi = await s.paymentIntents.create(
        {
          amount: 1999,
          currency: 'usd',
          customer: id(ctx.customer, 'customer'),
          payment_method: id(ctx.paymentMethod, 'payment method'),
          confirm: true,
          off_session: true,
          metadata: { purchase_id: 'pur_1', org_id: 'org_1' },
          description: 'Credit pack',
        },
        { idempotencyKey: 'shape-charge-1' },
      );
      ctx.paymentIntent = pi.id;
      ctx.charge = typeof pi.latest_charge === 'string' ? pi.latest_charge : pi.latest_charge?.id;
    },
  },
  {
    name: 'paymentIntents.retrieve',
    run: (s, ctx) => s.paymentIntents.retrieve(id(ctx.paymentIntent, 'payment intent')),
  },
  {
    name: 'paymentIntents.list (customer)',
    run: (s, ctx) => s.paymentIntents.list({ customer: id(ctx.customer, 'customer'), limit: 5 }),
  },
  {
    name: 'paymentIntents.list (customer, limit, starting_after)',
    run: (s, ctx) =>
      s.paymentIntents.list({
        customer: id(ctx.customer, 'customer'),
        limit: 100,
        starting_after: id(ctx.paymentIntent, 'payment intent'),
      }),
  },
  {
    name: 'charges.retrieve',
    async run(s, ctx) {
      // stripe-mock's PaymentIntent fixture has no latest_charge; it accepts any charge id.
      const charge =
        ctx.charge ??
        (await s.charges.list({ payment_intent: id(ctx.paymentIntent, 'payment intent') })).data[0]?.id ??
        'ch_stripe_mock_fixture';
      return s.charges.retrieve(charge);
    },
  },
  {
    name: 'charges.list (payment_intent)',
    run: (s, ctx) => s.charges.list({ payment_intent: id(ctx.paymentIntent, 'payment intent') }),
  },
  {
    name: 'paymentIntents.create (unconfirmed) + confirm (payment_method, return_url)',
    async run(s, ctx) {
      const pi = await s.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        customer: id(ctx.customer, 'customer'),
        allowed_payment_method_types: ['card'],
        metadata: { purchase_id: 'pur_2' },
      });
      await s.paymentIntents.confirm(pi.id, {
        payment_method: id(ctx.paymentMethod, 'payment method'),
        return_url: 'https://example.com/return',
      });
    },
  },
  {
    name: 'paymentIntents.create (unconfirmed) + confirm (payment_method)',
    async run(s, ctx) {
      const pi = await s.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        customer: id(ctx.customer, 'customer'),
      });
      await s.paymentIntents.confirm(pi.id, { payment_method: id(ctx.paymentMethod, 'payment method') });
    },
  },
  {
    name: 'paymentIntents.create + cancel (cancellation_reason)',
    async run(s, ctx) {
      const pi = await s.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        customer: id(ctx.customer, 'customer'),
      });
      ctx.openPaymentIntent = pi.id;
      await s.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    },
  },
  {
    name: 'refunds.create (payment_intent, amount, metadata, idempotency key)',
    async run(s, ctx) {
      const r = await s.refunds.create(
        {
          payment_intent: id(ctx.paymentIntent, 'payment intent'),
          amount: 500,
          reason: 'requested_by_customer',
          metadata: { purchase_id: 'pur_1' },
        },
        { idempotencyKey: 'shape-refund-1' },
      );
      ctx.refund = r.id;
    },
  },
  {
    name: 'refunds.create (payment_intent, full remainder)',
    run: (s, ctx) => s.refunds.create({ payment_intent: id(ctx.paymentIntent, 'payment intent') }),
  },
  { name: 'refunds.retrieve', run: (s, ctx) => s.refunds.retrieve(id(ctx.refund, 'refund')) },
  {
    name: 'refunds.list (payment_intent)',
    run: (s, ctx) => s.refunds.list({ payment_intent: id(ctx.paymentIntent, 'payment intent'), limit: 10 }),
  },
  {
    name: 'events.list (type, created, limit)',
    async run(s, ctx) {
      const list = await s.events.list({
        type: 'payment_intent.succeeded',
        created: { gte: Math.floor(Date.now() / 1000) - 3600 },
        limit: 100,
      });
      const any = list.data[0] ?? (await s.events.list({ limit: 1 })).data[0];
      ctx.event = any?.id;
    },
  },
  {
    name: 'events.list (types, starting_after)',
    run: (s, ctx) =>
      s.events.list({ types: ['charge.refunded', 'payment_intent.*'], starting_after: ctx.event, limit: 10 }),
  },
  { name: 'events.retrieve', run: (s, ctx) => s.events.retrieve(id(ctx.event, 'event')) },
];
