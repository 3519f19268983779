import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { createSql } from '../db/client';
import { temporalConnectionOptions } from '../temporal/connection';
import { buildApp } from './app';
import { closePortal, PORTAL_CLOSE_GRACE_MS } from './close';

// `tsx src/portal/server.ts`: the admin and portal HTTP API, the portal page and the Stripe webhook
// receiver on BIND_HOST:PORTAL_PORT.
const config = loadConfig();
const sql = createSql(config.databaseUrl, {
  maxConnections: config.POSTGRES_MAX_CONNECTIONS,
  applicationName: 'credit-pack-portal',
});
// A lazy connection: the portal starts (and serves reads, /healthz) even while Temporal is still
// coming up; /readyz reports it, checkout and cancel answer 503, webhooks answer 503 so Stripe retries.
const connection = Connection.lazy({ ...temporalConnectionOptions(config), connectTimeout: 10_000 });
const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });

const app = await buildApp({
  config,
  sql,
  temporal,
  stripePublishableKey: config.STRIPE_PUBLISHABLE_KEY ?? null,
});

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  try {
    const { forced } = await closePortal(app);
    if (forced)
      app.log.warn(
        { graceMs: PORTAL_CLOSE_GRACE_MS },
        'connections still open after the close grace were ended',
      );
    await connection.close();
    await sql.end({ timeout: 5 });
  } finally {
    process.exit(0);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await app.listen({ host: config.BIND_HOST, port: config.PORTAL_PORT });
