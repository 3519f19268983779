import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { GENERATED_TYPES, generateTypes } from '../../packages/sdk/scripts/generate-types';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { loadConfig } from '../../src/config';
import { buildApp } from '../../src/portal/app';

/**
 * The SDK's checked-in types are what openapi-typescript makes of the document the app serves now: the
 * app is built as `npm start` runs it (the product profile, the Stripe emulator; what
 * `npm run sdk:generate` generates from), listens on a loopback port, and GET /openapi.json is fetched.
 */
describe('packages/sdk/src/generated/openapi.ts', () => {
  it('matches the types generated from a freshly served /openapi.json', async () => {
    const config = loadConfig({ STACK_PROFILE: 'product' });
    const sql = postgres(config.databaseUrl, { max: 1 }); // never queried: /openapi.json reads no data
    const app = await buildApp({ config, sql, temporal: null, logger: false });
    let served: object;
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      expect(response.status).toBe(200);
      served = (await response.json()) as object;
    } finally {
      await app.close();
      await sql.end({ timeout: 1 });
    }
    const fresh = await generateTypes(served);
    const checkedIn = await readFile(join(PROJECT_ROOT, GENERATED_TYPES), 'utf8');
    if (fresh !== checkedIn) {
      expect.fail(
        `${GENERATED_TYPES} differs from the types of the served /openapi.json: run npm run sdk:generate`,
      );
    }
  });
});
