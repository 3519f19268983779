// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { PurchaseStatus } from '../../src/domain/purchase-states';
import { buildApp } from '../../src/portal/app';
import { closePortal } from '../../src/portal/close';
import { signPayload } from '../../tools/stripe-emulator/index';
import { call, newPack, newWorld, ok, uniqueName, type World } from '../catalog/helpers';
import { type PurchaseEnvOptions, purchaseEnv } from '../support/purchase-env';
import { StepTimer } from '../support/slow-steps';
import { waitFor } from '../support/wait';

/**
 * The portal as it runs in production, all real: `buildApp` listening on a random port with a Temporal
 * client, a test worker on its own task queue (the checkout starts purchases there), and a Stripe emulator
 * of this file's own whose webhooks are signed with STRIPE_WEBHOOK_SECRET and POSTed to this portal.
 */
/** Every test has had its answers by the time its harness closes; what is still open is idle. */
const HARNESS_CLOSE_GRACE_MS = 1_000;

export async function portalHarness(options: PurchaseEnvOptions & { checkoutWaitMs?: number } = {}) {
  // Timed like purchaseEnv's close: a file once spent about 70 s outside its tests (slow-steps.ts).
  const starting = new StepTimer('starting a portal harness');
  const env = await starting.step('the purchase environment', () =>
    purchaseEnv({ privateEmulator: true, ...options }),
  );
  const app: FastifyInstance = await starting.step('build the portal', () =>
    buildApp({
      config: env.config,
      sql: env.sql,
      logger: process.env.PORTAL_TEST_LOGS === '1' ? { level: 'info' } : false,
      temporal: env.temporal.client,
      stripe: env.stripe,
      checkoutWaitMs: options.checkoutWaitMs ?? 3_000,
    }),
  );
  await starting.step('listen', () => app.listen({ host: '127.0.0.1', port: 0 }));
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const webhookUrl = `${url}/v1/stripe/webhooks`;
  const secret = env.config.STRIPE_WEBHOOK_SECRET;

  async function emulator<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${env.emulatorUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} /_emulator${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }
  await starting.step('register the webhook endpoint', () =>
    emulator('POST', '/webhooks/endpoints', { url: webhookUrl, secret }),
  );

  const world: World = await starting.step('seed a world', () => newWorld(app));
  const pack = await starting.step('seed a pack', () =>
    newPack(app, world, { name: uniqueName('Power Pack'), credits: 500, price: 4000 }),
  );
  starting.report();

  /**
   * A customer of the world on `plan` with a portal token; `card` (a Stripe test token such as
   * `pm_card_visa`) is attached on the emulator and linked as the card on file. `plan: null`: a
   * customer with no subscription at all.
   */
  async function customer(
    opts: { plan?: keyof World['plans'] | null; status?: string; card?: string; world?: World } = {},
  ) {
    const w = opts.world ?? world;
    const extra: Record<string, string> = {};
    const email = `c${randomUUID().slice(0, 8)}@example.test`;
    if (opts.card) {
      // The same email: a Stripe customer is linked only when it matches (docs/security.md).
      const stripeCustomer = await env.stripe.customers.create({ email });
      const paymentMethod = await env.stripe.paymentMethods.attach(opts.card, {
        customer: stripeCustomer.id,
      });
      await env.stripe.customers.update(stripeCustomer.id, {
        invoice_settings: { default_payment_method: paymentMethod.id },
      });
      extra.stripeCustomerId = stripeCustomer.id;
      extra.defaultPaymentMethodId = paymentMethod.id;
    }
    const created = await ok(app, 'POST', '/v1/customers', {
      token: w.apiKey,
      body: { email, name: 'Pat Shopper', ...extra },
    });
    if (opts.plan !== null) {
      await ok(app, 'POST', '/v1/subscriptions', {
        token: w.apiKey,
        body: {
          customerId: created.id,
          planId: w.plans[opts.plan ?? 'pro'].id,
          status: opts.status ?? 'active',
        },
      });
    }
    const session = await ok(app, 'POST', '/v1/portal-sessions', {
      token: w.apiKey,
      body: { customerId: created.id },
    });
    return {
      id: created.id as string,
      token: session.token as string,
      stripeCustomerId: (extra.stripeCustomerId ?? null) as string | null,
      pageUrl: `${url}/portal#token=${encodeURIComponent(session.token)}`,
    };
  }
  type Customer = Awaited<ReturnType<typeof customer>>;

  /** POST /v1/portal/purchases as the page does. */
  function checkout(
    who: Customer,
    body: Record<string, unknown> = { creditPackId: pack.id },
    key: string | null = randomUUID(),
  ) {
    return call(app, 'POST', '/v1/portal/purchases', {
      token: who.token,
      body,
      headers: key === null ? {} : { 'idempotency-key': key },
    });
  }

  /** Polls GET /v1/portal/purchases/{id} until the purchase is `status`. */
  function purchaseReaches(who: Customer, purchaseId: string, status: PurchaseStatus, timeoutMs = 30_000) {
    return waitFor(
      async () => {
        const res = await call(app, 'GET', `/v1/portal/purchases/${purchaseId}`, { token: who.token });
        return res.body?.data?.status === status ? res.body.data : null;
      },
      `purchase ${purchaseId} to be ${status}`,
      timeoutMs,
    );
  }

  /** Delivers a body to the receiver over HTTP with a signature of our making. */
  async function postWebhook(body: string, signature: string | null) {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature === null ? {} : { 'stripe-signature': signature }),
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as any };
  }
  const sign = (body: string, timestamp?: number) => signPayload(body, secret, timestamp);

  async function stripeEvents(where: { purchaseId?: string; ids?: string[] }) {
    if (where.ids) {
      return env.sql<
        { id: string; type: string; outcome: string; deliveries: number; purchase_id: string | null }[]
      >`
        select id, type, outcome, deliveries, purchase_id from stripe_events where id in ${env.sql(where.ids)}`;
    }
    return env.sql<
      { id: string; type: string; outcome: string; deliveries: number; purchase_id: string | null }[]
    >`
      select id, type, outcome, deliveries, purchase_id from stripe_events where purchase_id = ${where.purchaseId!}
       order by received_at`;
  }

  /** The signals the purchase's workflow received, by name, from its history. */
  async function signalsOf(purchaseId: string): Promise<string[]> {
    const history = await env.temporal.client.workflow
      .getHandle(`credit-pack-purchase:${purchaseId}`)
      .fetchHistory();
    return (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
      .filter((name): name is string => typeof name === 'string');
  }

  /** Adds a test card to a SetupIntent the way Stripe.js does in the browser (raw number → PM → confirm). */
  async function confirmSetupIntentOnStripe(setupIntentId: string, number: string) {
    const paymentMethod = await emulator<{ id: string }>('POST', '/payment_methods', { number });
    return env.stripe.setupIntents.confirm(setupIntentId, { payment_method: paymentMethod.id });
  }

  return {
    env,
    app,
    url,
    webhookUrl,
    world,
    pack,
    emulator,
    customer,
    checkout,
    purchaseReaches,
    postWebhook,
    sign,
    stripeEvents,
    signalsOf,
    confirmSetupIntentOnStripe,
    async close() {
      const closing = new StepTimer('closing a portal harness');
      try {
        // Bounded: the emulator's webhook deliveries (fetch, keep-alive) once held a plain close 70 s.
        await closing.step('close the portal', () => closePortal(app, HARNESS_CLOSE_GRACE_MS));
        await closing.step('close the purchase environment', () => env.close());
      } finally {
        closing.report();
      }
    },
  };
}

export type PortalHarness = Awaited<ReturnType<typeof portalHarness>>;
export type PortalCustomer = Awaited<ReturnType<PortalHarness['customer']>>;
