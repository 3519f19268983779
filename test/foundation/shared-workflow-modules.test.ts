import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH, workflowBundlerOptions } from '../../src/temporal/workflow-bundle';
import { workflowBundle } from '../support/worker';

/**
 * The worker preloads its workflow code, so every module of the bundle is evaluated once and shared by
 * all the workflows of a worker thread (src/temporal/workflow-bundle.ts). A module that kept state of
 * its own at its top level would then leak it from one purchase into another: these tests hold every
 * module of ours in the bundle to the rule that makes sharing safe.
 */

const ALLOWED_TOP_LEVEL_CALLS = new Set([
  // The SDK's definitions: plain descriptions, or proxies that find the running workflow at call time.
  'proxyActivities',
  'proxyLocalActivities',
  'defineSignal',
  'defineQuery',
  'defineUpdate',
  'defineSearchAttributeKey',
  // Pure builders of constants.
  'Object.values',
  'Object.keys',
  'Object.freeze',
]);

/** What in a module's top level could hold state shared between workflows: one line per finding. */
function moduleStateFindings(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: string[] = [];
  const at = (node: ts.Node) => `${fileName}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;

  /** Calls and `new` evaluated when the module loads (not inside a function, which runs per workflow). */
  const visitInitializer = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isNewExpression(node)) findings.push(`${at(node)}: \`new\` at the top level: ${node.getText()}`);
    if (ts.isCallExpression(node) && !ALLOWED_TOP_LEVEL_CALLS.has(node.expression.getText())) {
      findings.push(`${at(node)}: call at the top level: ${node.expression.getText()}(…)`);
    }
    ts.forEachChild(node, visitInitializer);
  };
  const isReadonlyType = (declaration: ts.VariableDeclaration): boolean => {
    const type = declaration.type?.getText() ?? '';
    const init = declaration.initializer;
    const asConst =
      init !== undefined &&
      ts.isAsExpression(init) &&
      ts.isTypeReferenceNode(init.type) &&
      init.type.typeName.getText() === 'const';
    return asConst || type.startsWith('readonly ') || type.startsWith('Readonly<');
  };
  const isExported = (statement: ts.Statement): boolean =>
    ts.canHaveModifiers(statement) &&
    (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) {
      const flags = statement.declarationList.flags;
      if (!(flags & ts.NodeFlags.Const)) {
        findings.push(`${at(statement)}: a \`let\` or \`var\` at the top level`);
        continue;
      }
      for (const declaration of statement.declarationList.declarations) {
        if (declaration.initializer) visitInitializer(declaration.initializer);
        // Exports are frozen by the SDK when it preloads them; anything else mutable must say it is not.
        const literal = declaration.initializer && unwrap(declaration.initializer);
        const mutableLiteral =
          literal !== undefined &&
          (ts.isArrayLiteralExpression(literal) || ts.isObjectLiteralExpression(literal));
        if (mutableLiteral && !isExported(statement) && !isReadonlyType(declaration)) {
          findings.push(
            `${at(declaration)}: a module-private ${ts.isArrayLiteralExpression(literal) ? 'array' : 'object'} not typed readonly: ${declaration.name.getText()}`,
          );
        }
      }
    } else if (ts.isExpressionStatement(statement)) {
      findings.push(`${at(statement)}: a statement run when the module loads: ${statement.getText()}`);
    } else if (ts.isClassDeclaration(statement)) {
      for (const member of statement.members) {
        const isStatic =
          ts.canHaveModifiers(member) &&
          (ts.getModifiers(member) ?? []).some((m) => m.kind === ts.SyntaxKind.StaticKeyword);
        if (isStatic && ts.isPropertyDeclaration(member)) {
          findings.push(
            `${at(member)}: a static field (state of the class, shared): ${member.name.getText()}`,
          );
        }
        if (ts.isClassStaticBlockDeclaration(member)) findings.push(`${at(member)}: a static block`);
      }
    }
  }
  return findings;
}

/** An expression without its parentheses, `as` and `satisfies`. */
function unwrap(node: ts.Expression): ts.Expression {
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node)) {
    return unwrap(node.expression);
  }
  return node;
}

/** Our modules in a bundle (its source map's sources outside node_modules and webpack's runtime). */
function ourModules(code: string): string[] {
  const encoded = /sourceMappingURL=data:application\/json;charset=utf-8;base64,(\S+)/.exec(code)?.[1];
  if (!encoded) throw new Error('the workflow bundle has no inline source map');
  const sources = (JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as { sources: string[] })
    .sources;
  return sources.filter((source) => /\.ts$/.test(source) && !source.includes('node_modules'));
}

describe('the workflow bundle shares its modules between workflows', () => {
  let code: string;
  beforeAll(async () => {
    code = (await workflowBundle()).code;
  }, 120_000);

  it('preloads the workflows entry point, so its whole import graph is evaluated once per thread', () => {
    expect(workflowBundlerOptions.preloadModules).toEqual([WORKFLOWS_PATH]);
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    expect(preload).toContain('"./src/workflows/index.ts"');
  });

  it('every module of ours in the bundle keeps no state at its top level', () => {
    const modules = ourModules(code);
    // The bundle holds the workflows and what they import: the test must see them, not an empty list.
    expect(modules.map((m) => path.relative(process.cwd(), m))).toEqual(
      expect.arrayContaining(['src/workflows/purchase/workflow.ts', 'src/domain/purchase-states.ts']),
    );
    const findings = modules.flatMap((m) =>
      moduleStateFindings(path.relative(process.cwd(), m), readFileSync(m, 'utf8')),
    );
    expect(findings).toEqual([]);
  });
});

describe('moduleStateFindings', () => {
  it('finds each kind of top-level state', () => {
    const source = `
      let attempts = 0;
      var legacy = 1;
      const seen = new Map<string, number>();
      const cache = createCache();
      const order = ['a', 'b'];
      register();
      export class Registry { static entries: string[] = []; }
    `;
    const findings = moduleStateFindings('fixture.ts', source);
    expect(findings).toHaveLength(7);
    expect(findings.join('\n')).toMatch(
      /let.*\n.*let.*\n.*new Map.*\n.*createCache.*\n.*array.*order.*\n.*register\(\).*\n.*static field.*entries/,
    );
  });

  it('accepts what a stateless module is made of', () => {
    const source = `
      import { defineSignal, proxyActivities } from '@temporalio/workflow';
      export const db = proxyActivities<object>({ startToCloseTimeout: '1 minute' });
      export const added = defineSignal<[string]>('added');
      export const options = { retry: { maximumAttempts: 3 } };
      const statuses: readonly string[] = ['pending'];
      const kinds = ['a'] as const;
      const frozen = Object.freeze({ a: 1 });
      export const id = (n: number) => \`purchase:\${n}\`;
      export function f() { const m = new Map(); let x = 0; return [m, x, statuses, kinds, frozen]; }
      export class Box { items: string[] = []; add(i: string) { this.items.push(i); } }
    `;
    expect(moduleStateFindings('fixture.ts', source)).toEqual([]);
  });
});
