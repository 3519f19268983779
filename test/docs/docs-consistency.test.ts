import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack/paths';
import { errorCodes } from '../../src/domain/errors';
import { invariantNames } from '../../src/invariants';

/**
 * The hand-written docs stay true: the lists they keep match the code, and every link, anchor, repo
 * path and `npm run` command they mention exists. Covers README.md and docs/*.md (ARCHITECTURE.md and
 * CONTRIBUTING.md describe code layout in prose and are kept by review).
 */

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
const checkedDocs = ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).map((f) => `docs/${f}`)].filter(
  (path) => path.endsWith('.md'),
);

/** Markdown outside fenced code blocks. */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .filter((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return false;
      }
      return !fenced;
    })
    .join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** The first cell (a `code`) of each row of the table under `heading`. */
function tableKeys(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,3} /);
  return [...(end < 0 ? rest : rest.slice(0, end)).matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1]!);
}

describe('lists kept in the docs', () => {
  it('docs/invariants.md lists exactly the invariants the checker checks', () => {
    expect(tableKeys(read('docs/invariants.md'), '## The list')).toEqual([...invariantNames]);
  });

  it('docs/api.md lists exactly the error codes the API answers with', () => {
    expect(tableKeys(read('docs/api.md'), '### Errors')).toEqual([...errorCodes]);
  });
});

describe('references in README.md and docs/', () => {
  const scripts = Object.keys(JSON.parse(read('package.json')).scripts as Record<string, string>);

  it.each(checkedDocs)('%s: links and anchors resolve', (path) => {
    const broken: string[] = [];
    for (const [, target] of prose(read(path)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // http(s), mailto
      const [file, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = file === '' ? path : relative(PROJECT_ROOT, join(PROJECT_ROOT, dirname(path), file));
      if (!existsSync(join(PROJECT_ROOT, resolved))) broken.push(`${target} (no ${resolved})`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor))
        broken.push(`${target} (no heading #${anchor} in ${resolved})`);
    }
    expect(broken).toEqual([]);
  });

  it.each(checkedDocs)('%s: repo paths and npm scripts exist', (path) => {
    const text = read(path);
    const missing: string[] = [];
    for (const [, script] of text.matchAll(/npm run ([a-z][\w:-]*)/g)) {
      if (!scripts.includes(script!)) missing.push(`npm run ${script}`);
    }
    for (const [, repoPath] of text.matchAll(/`((?:src|test|scripts|tools|docs|\.ci)\/[^`\s]*)`/g)) {
      if (/[<>…*{}]/.test(repoPath!)) continue; // a pattern, not a path
      if (!existsSync(join(PROJECT_ROOT, repoPath!))) missing.push(repoPath!);
    }
    expect(missing).toEqual([]);
  });
});
