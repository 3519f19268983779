import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../stack/paths';
import { CONFIGURATION_DOC, renderConfigReference } from './config-reference';
import { OPENAPI_DOC, renderOpenApi } from './openapi';

/**
 * `npm run docs:generate`: writes the generated documents. test/docs/generated-docs.test.ts renders
 * the same in memory and fails when a checked-in copy differs.
 */
const documents: [path: string, render: () => string | Promise<string>][] = [
  [CONFIGURATION_DOC, renderConfigReference],
  [OPENAPI_DOC, renderOpenApi],
];

for (const [path, render] of documents) {
  await writeFile(join(PROJECT_ROOT, path), await render());
  console.log(`[docs] wrote ${path}`);
}
