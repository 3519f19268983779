import { execFile } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { createSql, type Sql } from '../../src/db/client';
import { buildApp } from '../../src/portal/app';
import { config, newPack, newWorld, type World } from '../catalog/helpers';

/**
 * The package as a consumer gets it: `tsc -p packages/sdk` builds ESM and declarations into
 * packages/sdk/dist (what `npm run sdk:build` does), a consumer project type-checks against the
 * package's exports, and the built module makes the product page's call against the real API.
 */

const run = promisify(execFile);
const tsc = join(PROJECT_ROOT, 'node_modules', '.bin', 'tsc');
const sdkDir = join(PROJECT_ROOT, 'packages', 'sdk');
const dist = join(sdkDir, 'dist');

let app: FastifyInstance;
let sql: Sql;
let url: string;
let world: World;
beforeAll(async () => {
  sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'sdk-build-tests' });
  app = await buildApp({ config, sql, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  world = await newWorld(app);
});
afterAll(async () => {
  await app?.close();
  await sql?.end({ timeout: 5 });
});

describe('the built package', () => {
  it('builds with tsc (strict) into dist: ESM and declarations', async () => {
    await rm(dist, { recursive: true, force: true });
    const started = Date.now();
    await run(tsc, ['-p', join(sdkDir, 'tsconfig.json')], { cwd: PROJECT_ROOT });
    const seconds = (Date.now() - started) / 1000;
    console.log(`[sdk] built packages/sdk/dist in ${seconds.toFixed(1)} s`);
    for (const file of ['index.js', 'index.d.ts', 'generated/openapi.d.ts', 'webhooks.js']) {
      expect((await stat(join(dist, file))).isFile()).toBe(true);
    }
  });

  it('a consumer project type-checks against the package by its name (exports, declarations)', async () => {
    const consumer = join(PROJECT_ROOT, 'test-results', 'sdk-consumer');
    await mkdir(consumer, { recursive: true });
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(PROJECT_ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    await writeFile(
      join(consumer, 'consumer.ts'),
      `import { CreditPacks, CreditPacksError, type CreditPack, type Envelope } from '@credit-packs/sdk';
const commet = new CreditPacks({ apiKey: 'orgkey_x' });
const packs: Envelope<CreditPack[]> = await commet.creditPacks.list();
if (packs.success) { const price: number = packs.data[0]!.price; void price; }
const strict = new CreditPacks({ apiKey: 'orgkey_x', throwOnError: true });
const listed = await strict.creditPacks.list();
const name: string | undefined = listed.data[0]?.name;
void name;
const portal = CreditPacks.portal({ token: 'pst_x' });
await portal.purchases.create({ creditPackId: 'cpk_x', quantity: 2 }, { idempotencyKey: 'k' });
// @ts-expect-error quantity is a number
await portal.purchases.create({ creditPackId: 'cpk_x', quantity: '2' });
const e = new CreditPacksError({ code: 'timeout', message: 'm', status: null, requestId: null });
void e;
CreditPacks.webhooks.verify('{}', 't=1,v1=00', 'whsec_x');
`,
    );
    await run(tsc, ['-p', join(consumer, 'tsconfig.json')], { cwd: consumer });
  });

  it("the built module answers the product page's call with the seed's envelope", async () => {
    await newPack(app, world, { name: 'Starter Pack', description: '100 credits for light usage' });
    const sdk = (await import(
      pathToFileURL(join(dist, 'index.js')).href
    )) as typeof import('../../packages/sdk/src/index');
    const commet = new sdk.CreditPacks({ apiKey: world.apiKey, baseUrl: url });
    const packs = await commet.creditPacks.list();
    expect(packs).toEqual({
      success: true,
      data: [
        expect.objectContaining({
          id: expect.stringMatching(/^cpk_/),
          name: 'Starter Pack',
          description: '100 credits for light usage',
          credits: 100,
          price: 1000,
          currency: 'usd',
        }),
      ],
    });
  });
});
