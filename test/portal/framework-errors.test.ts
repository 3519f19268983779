// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { newWorld, type World } from '../catalog/helpers';
import { testConfig } from '../support/config';

/**
 * What Fastify's router and Node's HTTP parser refuse before any route or hook runs, over real HTTP
 * (a listening server; `inject` skips both): still the envelope { success: false, error: { code, message } }.
 */

const config = testConfig();
let sql: Sql;
let app: FastifyInstance;
let host: string;
let port: number;
let base: string;
let world: World;

beforeAll(async () => {
  sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'framework-errors-tests' });
  app = await buildApp({ config, sql, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  ({ address: host, port } = app.server.address() as { address: string; port: number });
  base = `http://${host}:${port}`;
  world = await newWorld(app);
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** the server closed the connection after answering */
  closed: boolean;
}

/** Writes `request` as bytes on a fresh TCP connection and reads until the server closes it. */
function rawExchange(request: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString()}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      // A reset after the answer arrived still leaves the answer readable.
      if (chunks.length === 0) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseResponse(Buffer.concat(chunks).toString('latin1')), closed: true });
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseResponse(text: string): Omit<RawAnswer, 'closed'> {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1];
  if (!status) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(status), headers, body: text.slice(split + 4) };
}

/** The answer is exactly the envelope with `code`, in JSON, with a content-length that matches. */
function expectEnvelope(answer: RawAnswer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
  const body = JSON.parse(answer.body);
  expect(body).toEqual({ success: false, error: { code, message: expect.any(String) } });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

async function fetchAnswer(path: string, init: RequestInit = {}): Promise<RawAnswer> {
  const response = await fetch(`${base}${path}`, init);
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
    closed: false,
  };
}

describe("the router's refusals (Fastify frameworkErrors)", () => {
  it('a path parameter of 4,000 characters answers 400 validation_failed, not 414', async () => {
    const longId = `cpk_${'a'.repeat(3_996)}`;
    for (const path of [
      `/v1/credit-packs/${longId}`,
      `/v1/portal/purchases/${longId}`,
      `/v1/portal/purchases/${longId}/cancel`,
    ]) {
      const answer = await fetchAnswer(path, {
        method: path.endsWith('/cancel') ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${world.apiKey}` },
      });
      const body = expectEnvelope(answer, 400, 'validation_failed');
      expect(body.error.message).toBe('A path parameter is too long (at most 200 characters).');
      // The 4,000 characters are not echoed back.
      expect(answer.body).not.toContain('aaaaaaaaaa');
    }
  });

  it('a parameter of 200 characters still reaches the route (its own schema answers, not the router)', async () => {
    const answer = await fetchAnswer(`/v1/credit-packs/cpk_${'a'.repeat(196)}`, {
      headers: { authorization: `Bearer ${world.apiKey}` },
    });
    const body = JSON.parse(answer.body);
    expect(body.success).toBe(false);
    expect(body.error.message).not.toContain('path parameter is too long');
  });

  it('a path parameter that is not valid percent-encoding (FST_ERR_BAD_URL) answers 400 validation_failed', async () => {
    const answer = await fetchAnswer('/v1/credit-packs/cpk_%E0%A4%A', {
      headers: { authorization: `Bearer ${world.apiKey}` },
    });
    const body = expectEnvelope(answer, 400, 'validation_failed');
    expect(body.error.message).toBe('The URL path is not valid percent-encoding.');
  });
});

describe("Node's HTTP parser refusals (clientErrorHandler)", () => {
  it('a header block over 16 KiB answers 431 validation_failed in the envelope and closes', async () => {
    const answer = await rawExchange(
      `GET /healthz HTTP/1.1\r\nhost: ${host}:${port}\r\nx-big: ${'x'.repeat(20 * 1024)}\r\n\r\n`,
    );
    const body = expectEnvelope(answer, 431, 'validation_failed');
    expect(body.error.message).toBe('The request headers are too large.');
    expect(answer.headers.connection).toBe('close');
    expect(answer.closed).toBe(true);
  });

  it('a malformed request answers 400 validation_failed in the envelope and closes', async () => {
    for (const request of [
      'this is not http\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nhost: ${host}\r\nbad header without colon\r\n\r\n`,
      `POST /v1/credit-packs HTTP/1.1\r\nhost: ${host}\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n{}`,
    ]) {
      const answer = await rawExchange(request);
      const body = expectEnvelope(answer, 400, 'validation_failed');
      expect(body.error.message).toBe('The request is not valid HTTP.');
      expect(answer.headers.connection).toBe('close');
    }
  });

  it('an HTTP/1.1 request without Host answers 400 validation_failed in the envelope and closes', async () => {
    const answer = await rawExchange('GET /healthz HTTP/1.1\r\n\r\n');
    const body = expectEnvelope(answer, 400, 'validation_failed');
    expect(body.error.message).toBe('An HTTP/1.1 request needs a Host header.');
    expect(answer.headers.connection).toBe('close');
    // HTTP/1.0 has no Host requirement.
    const old = await rawExchange('GET /healthz HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
  });

  it('an Expect header other than 100-continue answers 417 validation_failed in the envelope', async () => {
    const answer = await rawExchange(
      `POST /v1/organizations HTTP/1.1\r\nhost: ${host}\r\nexpect: something-else\r\ncontent-length: 2\r\n\r\n{}`,
    );
    const body = expectEnvelope(answer, 417, 'validation_failed');
    expect(body.error.message).toBe('Only "Expect: 100-continue" is supported.');
    expect(answer.headers.connection).toBe('close');
  });

  it('a well-formed request on the same kind of raw connection is answered normally (the helper is honest)', async () => {
    const answer = await rawExchange(`GET /healthz HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ success: true, data: { status: 'ok' } });
  });
});

describe('shutting down', () => {
  it('a request arriving on a kept-alive connection while the app closes answers 503 service_unavailable in the envelope', async () => {
    const closingApp = await buildApp({ config, sql, logger: false });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    closingApp.get('/test-only/slow', async () => {
      started();
      await released;
      return { success: true, data: {} };
    });
    await closingApp.listen({ host: '127.0.0.1', port: 0 });
    const { port: closingPort } = closingApp.server.address() as { port: number };

    const socket = connect({ host: '127.0.0.1', port: closingPort });
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    const socketClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`GET /test-only/slow HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n`);
    await inFlight;
    const closed = closingApp.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A second request on the kept-alive connection, after close() began.
    socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await socketClosed;
    await closed;

    const second = received.slice(received.indexOf('HTTP/1.1', 1));
    expect(received.indexOf('HTTP/1.1', 1)).toBeGreaterThan(0);
    expectEnvelope({ ...parseResponse(second), closed: true }, 503, 'service_unavailable');
  });
});
