// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { newId, randomBase62, sha256Hex } from '../../src/db/ids';
import { buildApp } from '../../src/portal/app';
import { testConfig } from '../support/config';

/**
 * HTTP tests of the catalog and portal API: the real Fastify app (inject) over the real test Postgres.
 * Isolation by unique ids: each test makes its own organization, never truncates shared tables.
 */

export const config = testConfig();

export interface Harness {
  app: FastifyInstance;
  sql: Sql;
}

export function useHarness(): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    h.sql = createSql(config.databaseUrl, { maxConnections: 4, applicationName: 'catalog-tests' });
    h.app = await buildApp({ config, sql: h.sql, logger: false });
  });
  afterAll(async () => {
    await h.app?.close();
    await h.sql?.end({ timeout: 5 });
  });
  return h;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

export async function call<T = any>(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await app.inject({
    method,
    url,
    headers,
    ...(options.raw !== undefined ? { payload: options.raw } : {}),
    ...(options.body !== undefined ? { payload: options.body as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
}

/** Asserting helper: the call must succeed with `status`; returns `data`. */
export async function ok<T = any>(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  options: Parameters<typeof call>[3] & { status?: number } = {},
): Promise<T> {
  const res = await call(app, method, url, options);
  const expected = options.status ?? (method === 'POST' ? 201 : 200);
  if (res.status !== expected || res.body?.success !== true) {
    throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(res.body)} (expected ${expected})`);
  }
  return res.body.data as T;
}

export const uniqueName = (base: string) => `${base} ${randomBase62(6)}`;

export interface World {
  orgId: string;
  apiKey: string;
  plans: { free: any; pro: any; enterprise: any; metered: any };
}

/** A fresh organization with one plan of each kind. */
export async function newWorld(app: FastifyInstance): Promise<World> {
  const created = await ok(app, 'POST', '/v1/organizations', {
    token: config.PLATFORM_ADMIN_TOKEN,
    body: { name: uniqueName('Org') },
  });
  const apiKey = created.apiKey as string;
  const plan = (body: object) => ok(app, 'POST', '/v1/plans', { token: apiKey, body });
  const plans = {
    free: await plan({ name: 'Free', consumptionModel: 'credits', isFree: true, includedCredits: 50 }),
    pro: await plan({ name: 'Pro', consumptionModel: 'credits', includedCredits: 1000 }),
    enterprise: await plan({ name: 'Enterprise', consumptionModel: 'credits', includedCredits: 20000 }),
    metered: await plan({ name: 'Metered', consumptionModel: 'usage_based' }),
  };
  return { orgId: created.organization.id, apiKey, plans };
}

/** A customer subscribed to `planId` with `status`, and a portal token for them. */
export async function newCustomer(
  app: FastifyInstance,
  world: World,
  planId: string | null,
  status = 'active',
  extra: Record<string, unknown> = {},
): Promise<{ customer: any; token: string; subscription: any }> {
  const customer = await ok(app, 'POST', '/v1/customers', {
    token: world.apiKey,
    body: { email: `c${randomBase62(6)}@example.test`, name: 'Customer', ...extra },
  });
  const subscription = planId
    ? await ok(app, 'POST', '/v1/subscriptions', {
        token: world.apiKey,
        body: { customerId: customer.id, planId, status },
      })
    : null;
  const session = await ok(app, 'POST', '/v1/portal-sessions', {
    token: world.apiKey,
    body: { customerId: customer.id },
  });
  return { customer, token: session.token, subscription };
}

export async function newPack(
  app: FastifyInstance,
  world: World,
  body: Record<string, unknown> = {},
): Promise<any> {
  return ok(app, 'POST', '/v1/credit-packs', {
    token: world.apiKey,
    body: { name: uniqueName('Pack'), credits: 100, price: 1000, ...body },
  });
}

/** Purchases are written by the checkout/workflow (later issues); tests insert the row directly. */
export async function insertPurchase(
  sql: Sql,
  p: {
    orgId: string;
    customerId: string;
    pack: { id: string; credits: number; price: number };
    quantity?: number;
    status?: string;
  },
): Promise<string> {
  const id = newId('purchase');
  const q = p.quantity ?? 1;
  await sql`
    insert into purchases (id, organization_id, customer_id, credit_pack_id, quantity, unit_credits, unit_price_cents,
                           credits, price_cents, status, idempotency_key, request_hash)
    values (${id}, ${p.orgId}, ${p.customerId}, ${p.pack.id}, ${q}, ${p.pack.credits}, ${p.pack.price},
            ${q * p.pack.credits}, ${q * p.pack.price}, ${p.status ?? 'pending'}, ${randomBase62(16)}, ${sha256Hex(id)})`;
  return id;
}
