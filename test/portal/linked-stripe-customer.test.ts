// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { createStripeAt } from '../../src/stripe/client';
import { type StripeEmulatorHandle, startStripeEmulator } from '../../tools/stripe-emulator/index';
import { config, newWorld, type World } from '../catalog/helpers';

/**
 * docs/api.md: POST /v1/customers with a stripeCustomerId links an existing Stripe customer, and its
 * default payment method (invoice_settings.default_payment_method) counts as the card on file at once:
 * hasPaymentMethod in the admin answer and in /v1/portal/me, before any purchase.
 *
 * Over HTTP: the real portal app listening on a random port, the real test Postgres, and a Stripe
 * emulator of this file's own (its faults cannot reach other files' requests).
 */

let emulator: StripeEmulatorHandle;
let stripe: Stripe;
let sql: Sql;
let app: FastifyInstance;
let baseUrl: string;
let world: World;

async function listen(stripeClient: Stripe): Promise<{ app: FastifyInstance; url: string }> {
  const server = await buildApp({ config, sql, logger: false, stripe: stripeClient });
  await server.listen({ host: '127.0.0.1', port: 0 });
  return { app: server, url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  emulator = await startStripeEmulator({ host: '127.0.0.1', port: 0 });
  stripe = createStripeAt(emulator.url);
  sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'linked-stripe-customer-test' });
  ({ app, url: baseUrl } = await listen(stripe));
  world = await newWorld(app);
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
  await emulator?.close();
});

async function http(
  method: string,
  path: string,
  token: string,
  body?: unknown,
  url = baseUrl,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * A Stripe customer on the emulator, through the SDK; with `card`, attached and made the default. Its
 * email is the one the customer will be created with (a link must match: docs/security.md).
 */
async function stripeCustomer(
  card?: string,
): Promise<{ id: string; email: string; paymentMethodId: string | null }> {
  const email = newEmail();
  const customer = await stripe.customers.create({ email });
  if (!card) return { id: customer.id, email, paymentMethodId: null };
  const paymentMethod = await stripe.paymentMethods.attach(card, { customer: customer.id });
  await stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: paymentMethod.id },
  });
  return { id: customer.id, email, paymentMethodId: paymentMethod.id };
}

const newEmail = () => `c${randomUUID().slice(0, 8)}@example.test`;

async function portalMe(customerId: string): Promise<any> {
  const session = await http('POST', '/v1/portal-sessions', world.apiKey, { customerId });
  expect(session.status).toBe(201);
  const me = await http('GET', '/v1/portal/me', session.body.data.token);
  expect(me.status).toBe(200);
  return me.body.data;
}

async function rowsLinkedTo(stripeCustomerId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from customers where stripe_customer_id = ${stripeCustomerId}`;
  return row?.n ?? 0;
}

describe('POST /v1/customers with a stripeCustomerId (docs/api.md)', () => {
  it("records the Stripe customer's default card: hasPaymentMethod in the admin answer and /v1/portal/me", async () => {
    const linked = await stripeCustomer('pm_card_visa');
    const created = await http('POST', '/v1/customers', world.apiKey, {
      email: linked.email,
      name: 'Linked Lee',
      stripeCustomerId: linked.id,
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      stripeCustomerId: linked.id,
      defaultPaymentMethodId: linked.paymentMethodId,
      hasPaymentMethod: true,
    });

    const fetched = await http('GET', `/v1/customers/${created.body.data.id}`, world.apiKey);
    expect(fetched.body.data).toMatchObject({
      hasPaymentMethod: true,
      defaultPaymentMethodId: linked.paymentMethodId,
    });

    // A subscription so /me has a plan to judge; no purchase has happened.
    const sub = await http('POST', '/v1/subscriptions', world.apiKey, {
      customerId: created.body.data.id,
      planId: world.plans.pro.id,
      status: 'active',
    });
    expect(sub.status).toBe(201);
    const me = await portalMe(created.body.data.id);
    expect(me.hasPaymentMethod).toBe(true);
    expect(me.canPurchase).toEqual({ ok: true, code: null, message: null });
  });

  it('a Stripe customer without a default card is linked with no card on file', async () => {
    const linked = await stripeCustomer();
    const created = await http('POST', '/v1/customers', world.apiKey, {
      email: linked.email,
      name: 'Cardless Cam',
      stripeCustomerId: linked.id,
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      stripeCustomerId: linked.id,
      defaultPaymentMethodId: null,
      hasPaymentMethod: false,
    });
    expect((await portalMe(created.body.data.id)).hasPaymentMethod).toBe(false);
  });

  it("Stripe's default card wins over a defaultPaymentMethodId sent alongside (the one purchases charge)", async () => {
    const linked = await stripeCustomer('pm_card_visa');
    const created = await http('POST', '/v1/customers', world.apiKey, {
      email: linked.email,
      name: 'Both Bo',
      stripeCustomerId: linked.id,
      defaultPaymentMethodId: 'pm_card_mastercard',
    });
    expect(created.status).toBe(201);
    expect(created.body.data.defaultPaymentMethodId).toBe(linked.paymentMethodId);
  });

  it('an unknown Stripe customer answers 422 stripe_customer_not_found and creates nothing', async () => {
    const unknown = `cus_unknown${randomUUID().replaceAll('-', '').slice(0, 14)}`;
    const before = await http('GET', '/v1/customers', world.apiKey);
    const answer = await http('POST', '/v1/customers', world.apiKey, {
      email: newEmail(),
      name: 'Ghost',
      stripeCustomerId: unknown,
    });
    expect(answer).toEqual({
      status: 422,
      body: {
        success: false,
        error: { code: 'stripe_customer_not_found', message: expect.stringContaining(unknown) },
      },
    });
    expect(await rowsLinkedTo(unknown)).toBe(0);
    expect((await http('GET', '/v1/customers', world.apiKey)).body.data).toEqual(before.body.data);
  });

  it('Stripe answering 500 answers 503 service_unavailable and creates nothing; a retry then links', async () => {
    const linked = await stripeCustomer('pm_card_visa');
    await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        match: { method: 'GET', path: `/v1/customers/${linked.id}` },
        times: 1,
        action: { type: 'status', status: 500 },
      }),
    });
    const body = { email: linked.email, name: 'Retry Rae', stripeCustomerId: linked.id };
    const answer = await http('POST', '/v1/customers', world.apiKey, body);
    expect(answer).toEqual({
      status: 503,
      body: { success: false, error: { code: 'service_unavailable', message: expect.any(String) } },
    });
    expect(await rowsLinkedTo(linked.id)).toBe(0);

    const retried = await http('POST', '/v1/customers', world.apiKey, body);
    expect(retried.status).toBe(201);
    expect(retried.body.data.hasPaymentMethod).toBe(true);
  });

  it('Stripe unreachable answers 503 service_unavailable and creates nothing', async () => {
    // A port nothing listens on: connection refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const offline = await listen(createStripeAt(`http://127.0.0.1:${closedPort}`, { timeoutMs: 2_000 }));
    try {
      const stripeCustomerId = `cus_offline${randomUUID().replaceAll('-', '').slice(0, 14)}`;
      const answer = await http(
        'POST',
        '/v1/customers',
        world.apiKey,
        { email: newEmail(), name: 'Offline Oz', stripeCustomerId },
        offline.url,
      );
      expect([answer.status, answer.body.error?.code]).toEqual([503, 'service_unavailable']);
      expect(await rowsLinkedTo(stripeCustomerId)).toBe(0);

      // A customer without a Stripe link does not need Stripe.
      const plain = await http(
        'POST',
        '/v1/customers',
        world.apiKey,
        { email: newEmail(), name: 'Plain Pat' },
        offline.url,
      );
      expect(plain.status).toBe(201);
      expect(plain.body.data.hasPaymentMethod).toBe(false);
    } finally {
      await offline.app.close();
    }
  });
});
