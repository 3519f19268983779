// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { DEMO_API_KEY, loadDemoData } from '../../src/db/demo-data';
import { buildApp } from '../../src/portal/app';
import { call, config, ok, useHarness } from '../catalog/helpers';

const h = useHarness();

/** The contract of docs/api.md (served today), plus the portal page's helpers (settings; test-mode routes with the emulator). */
const contract = [
  'GET /healthz',
  'GET /readyz',
  'POST /v1/organizations',
  'POST /v1/credit-packs',
  'GET /v1/credit-packs',
  'GET /v1/credit-packs/{id}',
  'PATCH /v1/credit-packs/{id}',
  'POST /v1/credit-packs/{id}/archive',
  'POST /v1/plans',
  'GET /v1/plans',
  'GET /v1/plans/{id}',
  'POST /v1/customers',
  'GET /v1/customers',
  'GET /v1/customers/{id}',
  'GET /v1/customers/{id}/balance',
  'POST /v1/subscriptions',
  'GET /v1/subscriptions',
  'GET /v1/subscriptions/{id}',
  'PATCH /v1/subscriptions/{id}',
  'POST /v1/portal-sessions',
  'GET /v1/purchases',
  'GET /v1/purchases/{id}',
  'POST /v1/purchases/{id}/cancel',
  'GET /v1/portal/credit-packs',
  'GET /v1/portal/balance',
  'GET /v1/portal/me',
  'GET /v1/portal/purchases',
  'GET /v1/portal/purchases/{id}',
  'POST /v1/portal/purchases',
  'POST /v1/portal/purchases/{id}/cancel',
  'GET /v1/portal/settings',
  'GET /v1/portal/test-mode/cards',
  'POST /v1/portal/test-mode/setup-intents/{id}/confirm',
  'POST /v1/portal/test-mode/setup-intents/{id}/authenticate',
  'POST /v1/portal/test-mode/payment-intents/{id}/authenticate',
  'POST /v1/stripe/webhooks',
];

/** Routes deliberately left out of the document: the document itself and the portal page's files. */
const undocumented = ['GET /openapi.json', 'GET /portal', 'GET /portal/app.css', 'GET /portal/app.js'];

describe('GET /openapi.json', () => {
  it('documents every registered route, exactly, with request schemas and the error envelope', async () => {
    // Every route as Fastify registers it (HEAD is Fastify's automatic twin of each GET).
    const registered: string[] = [];
    const hidden: string[] = [];
    const app = await buildApp({
      config,
      sql: h.sql,
      logger: false,
      onRoute: (route) => {
        for (const method of [route.method].flat()) {
          if (method === 'HEAD') continue;
          const name = `${method} ${route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
          (route.schema?.hide ? hidden : registered).push(name);
        }
      },
    });
    let doc: any;
    try {
      await app.ready();
      const res = await call(app, 'GET', '/openapi.json');
      expect(res.status).toBe(200);
      doc = res.body;
    } finally {
      await app.close();
    }
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(registered.length).toBeGreaterThan(contract.length - 1);
    expect(documented.sort()).toEqual([...registered].sort());
    expect(hidden.sort()).toEqual([...undocumented].sort());
    // and the routes of the contract are all there
    expect(documented).toEqual(expect.arrayContaining(contract));

    const packCreate = doc.paths['/v1/credit-packs'].post;
    const body = packCreate.requestBody.content['application/json'].schema;
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(expect.arrayContaining(['name', 'credits', 'price']));
    expect(packCreate.responses['201']).toBeDefined();
    expect(packCreate.responses['4XX'] ?? packCreate.responses['4xx']).toBeDefined();
    expect(doc.components.securitySchemes).toHaveProperty('organizationApiKey');
    const list = doc.paths['/v1/portal/credit-packs'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(list.properties.data.items.properties)).toEqual([
      'id',
      'name',
      'description',
      'credits',
      'price',
      'currency',
    ]);
  });
});

describe('health and readiness', () => {
  it('healthz answers; readyz checks Postgres and any extra probe', async () => {
    expect(await ok(h.app, 'GET', '/healthz')).toEqual({ status: 'ok' });
    expect(await ok(h.app, 'GET', '/readyz')).toEqual({ status: 'ready', checks: { postgres: 'ok' } });

    const failing = await buildApp({
      config,
      sql: h.sql,
      logger: false,
      readinessChecks: [{ name: 'temporal', check: async () => Promise.reject(new Error('down')) }],
    });
    try {
      const res = await call(failing, 'GET', '/readyz');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        success: false,
        error: { code: 'service_unavailable', message: 'Not ready: temporal unreachable.' },
      });
    } finally {
      await failing.close();
    }
  });
});

describe('demo data', () => {
  it('loads idempotently and drives the portal as described', async () => {
    const first = await loadDemoData({ sql: h.sql, config });
    const second = await loadDemoData({ sql: h.sql, config });
    expect(second.organizationId).toBe(first.organizationId);
    expect(first.apiKey).toBe(DEMO_API_KEY);
    const [counts] = await h.sql`
      select (select count(*) from plans where organization_id = ${first.organizationId})::int as plans,
             (select count(*) from credit_packs where organization_id = ${first.organizationId})::int as packs,
             (select count(*) from customers where organization_id = ${first.organizationId})::int as customers`;
    expect(counts).toEqual({ plans: 4, packs: 5, customers: first.customers.length });

    const packsOf = async (name: string) => {
      const customer = first.customers.find((c) => c.name.startsWith(name))!;
      const list = await ok(h.app, 'GET', '/v1/portal/credit-packs', { token: customer.portalToken });
      return list.map((p: any) => p.name);
    };
    expect(await packsOf('Alice')).toEqual(['Starter Pack', 'Power Pack', 'Mega Pack']);
    expect(await packsOf('Bob')).toEqual(['Starter Pack', 'Power Pack', 'Mega Pack']);
    expect(await packsOf('Erin')).toContain('Enterprise Bulk Pack');
    expect(await packsOf('Dave')).toEqual([]);
    expect(await packsOf('Frank')).toEqual([]);
    const alice = first.customers.find((c) => c.name.startsWith('Alice'))!;
    expect((await ok(h.app, 'GET', '/v1/portal/me', { token: alice.portalToken })).hasPaymentMethod).toBe(
      false,
    );
    expect(alice.portalUrl).toContain('#token=pst_');
    // the fixed admin key works
    expect((await ok(h.app, 'GET', '/v1/plans', { token: DEMO_API_KEY })).length).toBe(4);
  });
});
