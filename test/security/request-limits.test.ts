// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test

import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMIT, depthExceeds, MAX_HEADER_BYTES, MAX_JSON_DEPTH } from '../../src/portal/app';
import { call, newWorld, useHarness } from '../catalog/helpers';

/**
 * docs/security.md: body size, header size and JSON nesting limits, each answered in the envelope and
 * before anything is written.
 */

const h = useHarness();

const nested = (levels: number, inner = '1') =>
  `${'{"a":'.repeat(levels - 1)}{"a":${inner}}${'}'.repeat(levels - 1)}`;

function expectEnvelope(res: { status: number; body: any }, status: number, code: string) {
  expect([res.status, res.body?.error?.code]).toEqual([status, code]);
  expect(res.body).toEqual({ success: false, error: { code, message: expect.any(String) } });
}

/** One raw HTTP/1.1 exchange over a real socket (what inject cannot show: Node's parser limits). */
async function raw(port: number, request: string): Promise<{ status: number; body: any }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.write(request);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(head?.split(' ')[1]), body: JSON.parse(body ?? 'null') };
}

describe('request limits (docs/security.md)', () => {
  it(`a JSON body nested deeper than ${MAX_JSON_DEPTH} levels answers 400 validation_failed and creates nothing`, async () => {
    const w = await newWorld(h.app);
    const before = (await call(h.app, 'GET', '/v1/plans', { token: w.apiKey })).body.data.length;
    const arrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    for (const deep of [nested(MAX_JSON_DEPTH), nested(2_000), arrays(MAX_JSON_DEPTH), arrays(30_000)]) {
      const res = await call(h.app, 'POST', '/v1/plans', {
        token: w.apiKey,
        raw: `{"name":"Deep","consumptionModel":"credits","x":${deep}}`,
        headers: { 'content-type': 'application/json' },
      });
      expectEnvelope(res, 400, 'validation_failed');
      expect(res.body.error.message).toContain(`at most ${MAX_JSON_DEPTH} levels`);
    }
    // Unauthenticated: the credential is judged first (onRequest), before the body is read.
    const unauthenticated = await call(h.app, 'POST', '/v1/organizations', {
      raw: arrays(40),
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    });
    expectEnvelope(unauthenticated, 401, 'unauthorized');
    expect((await call(h.app, 'GET', '/v1/plans', { token: w.apiKey })).body.data.length).toBe(before);
  });

  it('a body within the depth limit reaches validation as before', async () => {
    const w = await newWorld(h.app);
    const res = await call(h.app, 'POST', '/v1/plans', {
      token: w.apiKey,
      // the body object is level 1, so MAX_JSON_DEPTH - 1 more levels are within the limit
      raw: `{"name":"Deep","consumptionModel":"credits","x":${nested(MAX_JSON_DEPTH - 1)}}`,
      headers: { 'content-type': 'application/json' },
    });
    expectEnvelope(res, 400, 'validation_failed');
    expect(res.body.error.message).toMatch(/unknown field/);
    expect(depthExceeds({ a: [{ b: [] }] }, 4)).toBe(false);
    expect(depthExceeds({ a: [{ b: [] }] }, 3)).toBe(true);
  });

  it('a numeric query field takes numerals only (found by the fuzz: ?limit=true was read as 1)', async () => {
    const w = await newWorld(h.app);
    for (const limit of ['true', 'false', '1e1', 'x', '']) {
      const res = await call(h.app, 'GET', `/v1/customers?limit=${limit}`, { token: w.apiKey });
      expectEnvelope(res, 400, 'validation_failed');
    }
    expect((await call(h.app, 'GET', '/v1/customers?limit=2', { token: w.apiKey })).status).toBe(200);
  });

  it(`a body over ${DEFAULT_BODY_LIMIT} bytes answers 413 payload_too_large and creates nothing`, async () => {
    const w = await newWorld(h.app);
    const res = await call(h.app, 'POST', '/v1/plans', {
      token: w.apiKey,
      raw: JSON.stringify({ name: 'x'.repeat(DEFAULT_BODY_LIMIT), consumptionModel: 'credits' }),
      headers: { 'content-type': 'application/json' },
    });
    expectEnvelope(res, 413, 'payload_too_large');
    expect((await call(h.app, 'GET', '/v1/plans', { token: w.apiKey })).body.data).toHaveLength(4);
  });

  it(`headers over ${MAX_HEADER_BYTES} bytes answer 431 in the envelope over a real socket`, async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    const big = await raw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES + 10)}\r\nConnection: close\r\n\r\n`,
    );
    expectEnvelope(big, 431, 'validation_failed');
    const fine = await raw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8_000)}\r\nConnection: close\r\n\r\n`,
    );
    expect(fine).toEqual({ status: 200, body: { success: true, data: { status: 'ok' } } });
  });
});
