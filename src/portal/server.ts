import { loadConfig } from '../config';
import { createSql } from '../db/client';
import { buildApp } from './app';

// `tsx src/portal/server.ts`: the admin and portal HTTP API on BIND_HOST:PORTAL_PORT.
const config = loadConfig();
const sql = createSql(config.databaseUrl, {
  maxConnections: config.POSTGRES_MAX_CONNECTIONS,
  applicationName: 'credit-pack-portal',
});
const app = await buildApp({ config, sql });

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  try {
    await app.close();
    await sql.end({ timeout: 5 });
  } finally {
    process.exit(0);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await app.listen({ host: config.BIND_HOST, port: config.PORTAL_PORT });
