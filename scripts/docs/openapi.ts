import postgres from 'postgres';
import { loadConfig } from '../../src/config';
import { buildApp } from '../../src/portal/app';

/**
 * docs/openapi.json: the OpenAPI document the portal serves at GET /openapi.json, as `npm start` serves
 * it (the product profile's defaults, the Stripe emulator, so the test-mode routes are in it). Built
 * from the app itself with a Postgres client that is never queried (postgres.js connects on the first
 * query) and no Temporal client; nothing listens. Keys are sorted at every level and the file ends with
 * a newline, so the same code always writes the same bytes.
 */

export const OPENAPI_DOC = 'docs/openapi.json';

/** Objects with their keys sorted, recursively; arrays keep their order (it carries meaning). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export async function renderOpenApi(): Promise<string> {
  // Only the profile: nothing from this machine's environment may reach the document.
  const config = loadConfig({ STACK_PROFILE: 'product' });
  const sql = postgres(config.databaseUrl, { max: 1 });
  const app = await buildApp({ config, sql, temporal: null, logger: false });
  try {
    await app.ready();
    return `${JSON.stringify(sortKeys(app.swagger()), null, 2)}\n`;
  } finally {
    await app.close();
    await sql.end({ timeout: 1 });
  }
}
