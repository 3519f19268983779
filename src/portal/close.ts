import type { FastifyInstance } from 'fastify';

/**
 * How long the portal's close waits for the connections still open before it ends them. Requests in
 * flight finish well within it; a keep-alive connection that was busy when the close began can
 * otherwise hold Node's `server.close()` until its headers timeout (60 s, checked every 30 s): the
 * tests saw a Stripe webhook sender's connections hold the close for 70 s.
 */
export const PORTAL_CLOSE_GRACE_MS = 10_000;

/**
 * Closes a portal: stops accepting connections, lets the requests in flight finish, and once `graceMs`
 * has passed ends every connection still open, so a close is bounded. Says whether it had to.
 */
export async function closePortal(
  app: FastifyInstance,
  graceMs: number = PORTAL_CLOSE_GRACE_MS,
): Promise<{ forced: boolean }> {
  let forced = false;
  const grace = setTimeout(() => {
    forced = true;
    app.server.closeAllConnections();
  }, graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(grace);
  }
  return { forced };
}
