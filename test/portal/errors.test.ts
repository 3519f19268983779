// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/domain/errors';
import { buildApp } from '../../src/portal/app';
import { call, config, useHarness } from '../catalog/helpers';

const h = useHarness();

const envelope = (code: string) => ({ success: false, error: { code, message: expect.any(String) } });

describe('unknown routes and wrong methods', () => {
  it('answers 405 method_not_allowed with Allow for a known path and a wrong method, 404 not_found otherwise', async () => {
    const cases: [string, string, string][] = [
      ['DELETE', '/v1/credit-packs', 'GET, HEAD, POST'],
      ['PUT', '/v1/credit-packs/cpk_abcdefgh12', 'GET, HEAD, PATCH'],
      ['DELETE', '/v1/credit-packs/cpk_abcdefgh12/', 'GET, HEAD, PATCH'],
      ['GET', '/v1/organizations', 'POST'],
      ['GET', '/v1/stripe/webhooks', 'POST'],
      // before any credential is checked: the path and its methods are public (openapi.json)
      ['GET', '/v1/portal/purchases/pur_abcdefgh12/cancel', 'POST'],
      ['POST', '/healthz?x=1', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await call(h.app, method as any, url, { body: method === 'GET' ? undefined : {} });
      expect(res.status, `${method} ${url}`).toBe(405);
      expect(res.body, `${method} ${url}`).toEqual(envelope('method_not_allowed'));
      expect(res.headers.allow, `${method} ${url}`).toBe(allow);
    }
    for (const [method, url] of [
      ['GET', '/v1/nothing-here'],
      ['POST', '/v1/credit-packs/cpk_abcdefgh12/nope'],
      ['GET', '/'],
    ] as const) {
      const res = await call(h.app, method, url);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body).toEqual(envelope('not_found'));
      expect(res.headers.allow).toBeUndefined();
    }
  });
});

describe('unexpected failures', () => {
  it('answer 500 internal_error in the envelope, without the cause', async () => {
    const app = await buildApp({ config, sql: h.sql, logger: false });
    app.get('/test-only/boom', async () => {
      throw new Error('secret detail: connection string postgres://user:pw@host');
    });
    try {
      const res = await call(app, 'GET', '/test-only/boom');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        success: false,
        error: { code: 'internal_error', message: 'Internal error.' },
      });
    } finally {
      await app.close();
    }
  });
});

describe('the error code list', () => {
  it('is the one documented in /openapi.json; codes nothing produced are gone', async () => {
    const doc = (await call(h.app, 'GET', '/openapi.json')).body;
    const documented = /error codes: ([a-z_, ]+)\./.exec(doc.info.description)?.[1]?.split(', ');
    expect(documented).toEqual(errorCodes);
    // rate_limited is answered since the rate limits (docs/security.md).
    for (const gone of ['forbidden', 'organization_not_found']) {
      expect(errorCodes).not.toContain(gone);
    }
  });
});

describe('request ids', () => {
  it('every answer, success or error, names its request (Request-Id), each one different', async () => {
    const ok = await call(h.app, 'GET', '/healthz');
    const refused = await call(h.app, 'GET', '/v1/credit-packs');
    const missing = await call(h.app, 'GET', '/v1/nothing-here');
    expect(refused.status).toBe(401);
    const ids = [ok, refused, missing].map((r) => r.headers['request-id']);
    for (const id of ids) expect(id).toMatch(/^req_[A-Za-z0-9]{16}$/);
    expect(new Set(ids).size).toBe(3);
  });
});
