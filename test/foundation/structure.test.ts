import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The layering of src/ (.dependency-cruiser.cjs): the real tree has no violation, and each rule that
 * guards a finding of the structure review catches a tree that breaks it, so the check cannot pass by
 * resolving nothing.
 */

const root = resolve(import.meta.dirname, '../..');
const config = join(root, '.dependency-cruiser.cjs');
const cli = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The violations dependency-cruiser reports for `src` of the tree at `cwd`. */
async function violationsIn(cwd: string): Promise<Violation[]> {
  const { stdout } = await run(process.execPath, [cli, 'src', '--config', config, '--output-type', 'json'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' })); // exit 1 on violations
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('module layering', () => {
  it('src has no import circle and no backward import', async () => {
    expect(await violationsIn(root)).toEqual([]);
  });

  describe('each rule catches its violation', () => {
    let tree: string;
    const files: Record<string, string> = {
      // a circle, like the old starter ↔ reconcile
      'src/starter.ts': "import { sweep } from './temporal/reconcile';\nexport const start = () => sweep;\n",
      'src/temporal/reconcile.ts': "import { start } from '../starter';\nexport const sweep = () => start;\n",
      // db importing the HTTP layer and Temporal, like the old demo data importing portal/auth
      'src/db/demo-data.ts':
        "import { issue } from '../portal/auth';\nimport { Client } from '@temporalio/client';\nexport const demo = [issue, Client];\n",
      'src/portal/auth.ts': 'export const issue = 1;\n',
      // domain importing SQL
      'src/domain/rules.ts': "import { q } from '../db/queries';\nexport const rule = q;\n",
      'src/db/queries.ts': 'export const q = 1;\n',
      // the workflow importing Temporal client code, like the old search attributes
      'src/workflows/purchase.ts':
        "import { key } from '../temporal/search-attributes';\nexport const w = key;\n",
      'src/temporal/search-attributes.ts': 'export const key = 1;\n',
      // a route importing its sibling, like admin.ts taking cancelPurchase from checkout.ts
      'src/portal/routes/admin.ts': "import { cancel } from './checkout';\nexport const admin = cancel;\n",
      'src/portal/routes/checkout.ts': 'export const cancel = 1;\n',
    };

    beforeAll(async () => {
      tree = await mkdtemp(join(tmpdir(), 'layering-'));
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(tree, path)), { recursive: true });
        await writeFile(join(tree, path), text);
      }
      await writeFile(
        join(tree, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'preserve' } }),
      );
      await symlink(join(root, 'node_modules'), join(tree, 'node_modules'));
    });
    afterAll(async () => {
      if (tree) await rm(tree, { recursive: true, force: true });
    });

    it('reports every broken rule, naming both ends', async () => {
      const found = (await violationsIn(tree)).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
      expect(found).toEqual(
        [
          'db-stays-inner: src/db/demo-data.ts → src/portal/auth.ts',
          'db-stays-inner: src/db/demo-data.ts → node_modules/@temporalio/client/lib/index.js',
          'domain-is-pure: src/domain/rules.ts → src/db/queries.ts',
          'no-circular: src/starter.ts → src/temporal/reconcile.ts',
          'admin-not-portal-routes: src/portal/routes/admin.ts → src/portal/routes/checkout.ts',
          'workflows-stay-deterministic: src/workflows/purchase.ts → src/temporal/search-attributes.ts',
        ].sort(),
      );
    });
  });
});
