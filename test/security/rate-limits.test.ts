// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createSql, type Sql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { newWorld, config as testConfig, type World } from '../catalog/helpers';
import { testConfig as configWith } from '../support/config';

/**
 * docs/security.md: every route is rate limited per bearer credential and per client address; over a
 * limit, 429 rate_limited in the envelope with Retry-After. The real app (inject, with remote addresses
 * of our choosing) on the real test Postgres, with tiny limits.
 */

let sql: Sql;
let world: World;
const apps: FastifyInstance[] = [];

async function appWith(env: NodeJS.ProcessEnv): Promise<FastifyInstance> {
  const app = await buildApp({ config: configWith(env), sql, logger: false });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  sql = createSql(testConfig.databaseUrl, { maxConnections: 2, applicationName: 'rate-limit-tests' });
  const setup = await appWith({});
  world = await newWorld(setup);
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await sql?.end({ timeout: 5 });
});

function get(app: FastifyInstance, url: string, opts: { token?: string; ip?: string } = {}) {
  return app.inject({
    method: 'GET',
    url,
    remoteAddress: opts.ip ?? '10.0.0.1',
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
  });
}

function expectRateLimited(res: Awaited<ReturnType<typeof get>>, what: RegExp) {
  expect(res.statusCode).toBe(429);
  const body = res.json() as any;
  expect(body).toEqual({ success: false, error: { code: 'rate_limited', message: expect.any(String) } });
  expect(body.error.message).toMatch(what);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
}

describe('rate limits (docs/security.md)', () => {
  it('per credential: the 4th request of one API key in the window is 429; another key goes on', async () => {
    const app = await appWith({ RATE_LIMIT_PER_CREDENTIAL: '3', RATE_LIMIT_PER_IP: '1000' });
    for (let i = 0; i < 3; i += 1) {
      // From different addresses: the credential's limit does not depend on where it comes from.
      expect((await get(app, '/v1/plans', { token: world.apiKey, ip: `10.0.1.${i}` })).statusCode).toBe(200);
    }
    expectRateLimited(await get(app, '/v1/plans', { token: world.apiKey, ip: '10.0.1.9' }), /credential/);
    // Another organization's key from the same address is not affected.
    const other = await newWorld(await appWith({}));
    expect((await get(app, '/v1/plans', { token: other.apiKey, ip: '10.0.1.9' })).statusCode).toBe(200);
  });

  it('per credential counts wrong credentials too (guessing is limited), and unknown routes', async () => {
    const app = await appWith({ RATE_LIMIT_PER_CREDENTIAL: '2', RATE_LIMIT_PER_IP: '1000' });
    const guess = 'orgkey_guessed_key_000000000000';
    expect((await get(app, '/v1/plans', { token: guess, ip: '10.0.2.1' })).statusCode).toBe(401);
    expect((await get(app, '/v1/nothing-here', { token: guess, ip: '10.0.2.2' })).statusCode).toBe(404);
    expectRateLimited(await get(app, '/v1/plans', { token: guess, ip: '10.0.2.3' }), /credential/);
  });

  it('per address: whatever the credentials, and on routes without any', async () => {
    const app = await appWith({ RATE_LIMIT_PER_CREDENTIAL: '1000', RATE_LIMIT_PER_IP: '3' });
    expect((await get(app, '/healthz', { ip: '10.0.3.1' })).statusCode).toBe(200);
    expect((await get(app, '/v1/plans', { ip: '10.0.3.1', token: world.apiKey })).statusCode).toBe(200);
    expect(
      (await get(app, '/v1/plans', { ip: '10.0.3.1', token: 'orgkey_x_0000000000000000' })).statusCode,
    ).toBe(401);
    expectRateLimited(await get(app, '/healthz', { ip: '10.0.3.1' }), /address/);
    expectRateLimited(await get(app, '/v1/plans', { ip: '10.0.3.1', token: world.apiKey }), /address/);
    // POST too (the webhook receiver and every write): refused before the body is read or anything runs.
    const post = await app.inject({
      method: 'POST',
      url: '/v1/stripe/webhooks',
      remoteAddress: '10.0.3.1',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      payload: '{}',
    });
    expectRateLimited(post as any, /address/);
    // Another address is not affected.
    expect((await get(app, '/healthz', { ip: '10.0.3.2' })).statusCode).toBe(200);
  });

  it('a refused request changes nothing', async () => {
    const app = await appWith({ RATE_LIMIT_PER_CREDENTIAL: '1', RATE_LIMIT_PER_IP: '1000' });
    const create = () =>
      app.inject({
        method: 'POST',
        url: '/v1/plans',
        remoteAddress: '10.0.4.1',
        headers: { authorization: `Bearer ${world.apiKey}` },
        payload: { name: `Limited ${Math.random()}`, consumptionModel: 'credits' },
      });
    expect((await create()).statusCode).toBe(201);
    const before = (await get(await appWith({}), '/v1/plans', { token: world.apiKey })).json().data.length;
    expectRateLimited((await create()) as any, /credential/);
    expect((await get(await appWith({}), '/v1/plans', { token: world.apiKey })).json().data.length).toBe(
      before,
    );
  });

  it('0 turns a limit off; the defaults allow hundreds of requests per second per credential', async () => {
    const app = await appWith({ RATE_LIMIT_PER_CREDENTIAL: '0', RATE_LIMIT_PER_IP: '0' });
    for (let i = 0; i < 50; i += 1)
      expect((await get(app, '/healthz', { token: world.apiKey })).statusCode).toBe(200);
    const defaults = loadConfig({});
    expect(
      defaults.RATE_LIMIT_PER_CREDENTIAL / (defaults.RATE_LIMIT_WINDOW_MS / 1000),
    ).toBeGreaterThanOrEqual(300);
    expect(defaults.RATE_LIMIT_PER_IP).toBeGreaterThanOrEqual(defaults.RATE_LIMIT_PER_CREDENTIAL);
  });
});
