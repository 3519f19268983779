// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client';
import { databaseUnavailable, isUniqueViolation } from '../../src/db/errors';
import { buildApp } from '../../src/portal/app';
import { DATABASE_RETRY_AFTER_SECONDS } from '../../src/portal/errors';
import { call, config, newWorld, useHarness } from '../catalog/helpers';

/**
 * A database that is away (restarting, refusing connections) answers 503 service_unavailable with
 * Retry-After, in the envelope: the client's cue to retry the same request. Before, these were 500
 * internal_error (the soak saw them during its Postgres restart).
 */

const h = useHarness();

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectUnavailable(res: { status: number; body: any; headers: Record<string, unknown> }) {
  expect([res.status, res.body?.error?.code]).toEqual([503, 'service_unavailable']);
  expect(res.body).toEqual({
    success: false,
    error: { code: 'service_unavailable', message: expect.any(String) },
  });
  expect(res.headers['retry-after']).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
}

describe('a database that is away answers 503, not 500', () => {
  const opened: { close: () => Promise<unknown> }[] = [];
  afterAll(async () => {
    for (const o of opened) await o.close();
  });

  it('connection refused (Postgres down): 503 service_unavailable with Retry-After', async () => {
    const w = await newWorld(h.app);
    const url = new URL(config.databaseUrl);
    url.port = String(await closedPort());
    const sql = createSql(url.toString(), { maxConnections: 1 });
    const app = await buildApp({ config, sql, logger: false });
    opened.push(app, { close: () => sql.end({ timeout: 1 }) });
    expectUnavailable(await call(app, 'GET', '/v1/plans', { token: w.apiKey }));
    expectUnavailable(
      await call(app, 'POST', '/v1/plans', {
        token: w.apiKey,
        body: { name: 'X', consumptionModel: 'credits' },
      }),
    );
  });

  it('a pool that was closed: 503 too', async () => {
    const w = await newWorld(h.app);
    const sql = createSql(config.databaseUrl, { maxConnections: 1 });
    const app = await buildApp({ config, sql, logger: false });
    opened.push(app);
    await sql.end({ timeout: 1 });
    expectUnavailable(await call(app, 'GET', '/v1/plans', { token: w.apiKey }));
  });

  it('tells a terminated connection (57P01, as in a restart) from a client error', async () => {
    const victim = createSql(config.databaseUrl, { maxConnections: 1, applicationName: 'terminate-me' });
    opened.push({ close: () => victim.end({ timeout: 1 }) });
    const [row] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = row?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    const sleeping = victim`select pg_sleep(30)`.then(
      () => null,
      (error: unknown) => error,
    );
    await expect
      .poll(
        async () =>
          (await h.sql`select 1 from pg_stat_activity where pid = ${pid} and state = 'active'`).length,
      )
      .toBe(1);
    await h.sql`select pg_terminate_backend(${pid})`;
    const error = await sleeping;
    // postgres.js reports the server's FATAL 57P01 as the connection closing under the query.
    expect(['57P01', 'CONNECTION_CLOSED']).toContain((error as { code?: string }).code);
    expect(databaseUnavailable(error)).toBe(true);

    const duplicate = await h.sql
      .begin(async (tx) => {
        await tx`create temp table unavailable_probe (x int primary key) on commit drop`;
        await tx`insert into unavailable_probe values (1), (1)`;
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(databaseUnavailable(duplicate)).toBe(false);
    expect(databaseUnavailable(new Error('boom'))).toBe(false);
    expect(databaseUnavailable(null)).toBe(false);
  });
});
