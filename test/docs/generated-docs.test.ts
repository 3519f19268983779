import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, renderConfigReference } from '../../scripts/docs/config-reference';
import { OPENAPI_DOC, renderOpenApi } from '../../scripts/docs/openapi';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { configReference } from '../../src/config';

/**
 * The generated documents are rendered here, in memory, by the same code as `npm run docs:generate`,
 * and compared with the checked-in copies: a schema, route or description changed without
 * regenerating fails the suite (and so CI), so the docs cannot drift from the code.
 */

const read = (path: string) => readFile(join(PROJECT_ROOT, path), 'utf8');
const stale = (path: string) =>
  `${path} differs from what the code generates: run \`npm run docs:generate\` and commit the result`;

describe('generated documentation', () => {
  it(`${CONFIGURATION_DOC} is the configuration schema's reference`, async () => {
    expect(await read(CONFIGURATION_DOC), stale(CONFIGURATION_DOC)).toBe(renderConfigReference());
  });

  it(`${OPENAPI_DOC} is the OpenAPI document the portal serves`, async () => {
    expect(await read(OPENAPI_DOC), stale(OPENAPI_DOC)).toBe(await renderOpenApi());
  });

  it('renders the same bytes twice (nothing random, no clock, no port)', async () => {
    expect(await renderOpenApi()).toBe(await renderOpenApi());
    expect(renderConfigReference()).toBe(renderConfigReference());
  });
});

describe('the configuration schema', () => {
  it('describes every variable (the reference has a meaning for each)', () => {
    const undescribed = configReference()
      .filter((row) => row.description.trim() === '')
      .map((row) => row.variable);
    expect(undescribed, 'add .describe(…) to these fields in src/config.ts').toEqual([]);
  });

  it('.env.example lists every variable once, with the product default (empty when unset)', async () => {
    const listed = new Map<string, string[]>();
    for (const line of (await read('.env.example')).split('\n')) {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (match) listed.set(match[1]!, [...(listed.get(match[1]!) ?? []), match[2]!]);
    }
    const expected = Object.fromEntries(
      configReference().map((row) => [row.variable, [String(row.productDefault ?? '')]]),
    );
    expect(Object.fromEntries(listed), '.env.example and src/config.ts disagree').toEqual(expected);
  });
});
