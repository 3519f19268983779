import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchemathesis, runSchemathesis } from '../../scripts/fuzz/schemathesis';
import { tinyServer } from './tiny-server';

/**
 * The fuzz of api-fuzz.test.ts fails when it should: pointed at a tiny API that answers a 5xx on some
 * inputs, or outside the envelope, it reports exactly those operations; the same API fixed passes.
 */

let st: string;
let app: FastifyInstance | undefined;
beforeAll(() => {
  st = ensureSchemathesis();
}, 300_000);
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function fuzz(broken: { serverError: boolean; bareAnswer: boolean }) {
  app = await tinyServer(broken);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return runSchemathesis(st, {
    schemaUrl: `http://127.0.0.1:${port}/openapi.json`,
    seed: 1,
    mode: 'positive',
    maxExamples: 20,
    phases: ['coverage', 'fuzzing'],
    // The tiny server's own 404s for other methods are not in the envelope; only its routes are judged.
    checks: [],
  });
}

describe('the fuzz catches what it must', () => {
  it('a 5xx and an answer outside the envelope fail the run, named by operation and check', async () => {
    const report = await fuzz({ serverError: true, bareAnswer: true });
    expect(report.exitCode).not.toBe(0);
    const found = new Set(report.failures.map((f) => `${f.operation} ${f.check}`));
    expect(found).toContain('GET /crashes not_a_server_error');
    expect(found).toContain('GET /bare envelope');
    expect([...found].some((f) => f.startsWith('GET /fine'))).toBe(false);
  }, 120_000);

  it('the same API fixed passes', async () => {
    const report = await fuzz({ serverError: false, bareAnswer: false });
    const onRoutes = report.failures.filter((f) => f.operation.startsWith('GET '));
    expect(onRoutes).toEqual([]);
    expect(report.errors).toEqual([]);
    expect(report.operations).toBeGreaterThan(20);
  }, 120_000);
});
