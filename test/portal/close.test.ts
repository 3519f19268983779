/**
 * The portal's close is bounded (src/portal/close.ts): a connection that never finishes its request
 * would hold Node's server.close() until the headers timeout; closePortal ends it after its grace.
 */

import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { closePortal } from '../../src/portal/close';

async function listening() {
  const app = Fastify();
  app.get('/ping', async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

/** A client that sends half a request's headers and then nothing. */
async function halfRequest(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  socket.on('error', () => undefined);
  // Let the server's parser take the bytes, so the connection counts as busy, not idle.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return socket;
}

describe("the portal's close", () => {
  it('ends a connection that never finishes its request once the grace has passed', async () => {
    const { app, port } = await listening();
    const socket = await halfRequest(port);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = Date.now();
    const result = await closePortal(app, 300);
    expect(result).toEqual({ forced: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(10_000);
    await closed;
  });

  it('a plain close waits on that connection (what the grace is for)', async () => {
    const { app, port } = await listening();
    const socket = await halfRequest(port);
    const outcome = await Promise.race([
      app.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_500)),
    ]);
    expect(outcome).toBe('still waiting');
    socket.destroy();
    await app.close();
  });

  it('forces nothing when no connection is open, and answers requests until then', async () => {
    const { app, port } = await listening();
    const res = await fetch(`http://127.0.0.1:${port}/ping`, { headers: { connection: 'close' } });
    expect(await res.json()).toEqual({ ok: true });
    expect(await closePortal(app, 5_000)).toEqual({ forced: false });
  });
});
