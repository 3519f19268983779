import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderOpenApi } from '../../../scripts/docs/openapi';
import { PROJECT_ROOT } from '../../../scripts/stack/paths';
import { GENERATED_TYPES, generateTypes } from './generate-types';

/** `npm run sdk:generate`: the SDK's types from the OpenAPI document the app serves (as docs:generate builds it). */
const document = JSON.parse(await renderOpenApi()) as object;
await writeFile(join(PROJECT_ROOT, GENERATED_TYPES), await generateTypes(document));
console.log(`[sdk] wrote ${GENERATED_TYPES}`);
