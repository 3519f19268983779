import { type ConfigReferenceRow, configReference } from '../../src/config';
import { code, markdownTable } from './markdown';

/**
 * docs/configuration.md, rendered from the configuration schema in src/config.ts: every variable, its
 * default in the product and the test profile, what it accepts and what it means. Written by
 * `npm run docs:generate`; test/docs/generated-docs.test.ts fails when the file differs.
 */

export const CONFIGURATION_DOC = 'docs/configuration.md';

const units: [suffix: string, ms: number][] = [
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1_000],
];

/** `86400000 (24 h)` for a duration in milliseconds (`_MS`) or seconds (`_SECONDS`). */
function withDuration(variable: string, value: number): string {
  const ms = variable.endsWith('_MS') ? value : variable.endsWith('_SECONDS') ? value * 1_000 : null;
  if (ms === null || ms < 1_000) return code(value);
  for (const [suffix, size] of units) {
    if (ms % size === 0) {
      return `${code(value)} (${ms / size} ${suffix})`;
    }
  }
  return code(value);
}

function defaultCell(row: ConfigReferenceRow, value: string | number | undefined): string {
  if (value === undefined) return 'unset';
  return typeof value === 'number' ? withDuration(row.variable, value) : code(value);
}

/** What the schema accepts, in words: type, bounds, choices, prefix. */
function accepts(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return (schema.enum as string[]).map(code).join(', ');
  if (schema.type === 'integer') {
    const min =
      typeof schema.minimum === 'number'
        ? schema.minimum
        : typeof schema.exclusiveMinimum === 'number'
          ? schema.exclusiveMinimum + 1
          : null;
    const max =
      typeof schema.maximum === 'number' && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : null;
    if (min !== null && max !== null) return `integer ${min}–${max}`;
    if (min !== null) return `integer ≥ ${min}`;
    if (max !== null) return `integer ≤ ${max}`;
    return 'integer';
  }
  if (schema.type === 'string') {
    const prefix = typeof schema.pattern === 'string' ? /^\^([A-Za-z0-9_]+)\.\*$/.exec(schema.pattern) : null;
    if (prefix) return `text starting ${code(prefix[1]!)}`;
    if (schema.format === 'uri') return 'URL';
    if (typeof schema.minLength === 'number' && schema.minLength > 1)
      return `text of ${schema.minLength}+ characters`;
    return 'text';
  }
  return String(schema.type ?? 'any');
}

export function renderConfigReference(rows: ConfigReferenceRow[] = configReference()): string {
  const table = markdownTable(
    ['variable', 'default', 'test profile', 'accepts', 'meaning'],
    rows.map((row) => [
      code(row.variable),
      defaultCell(row, row.productDefault),
      row.testDefault === row.productDefault ? 'same' : defaultCell(row, row.testDefault),
      accepts(row.jsonSchema),
      row.description,
    ]),
  );
  return `<!-- Generated from src/config.ts by \`npm run docs:generate\`; do not edit by hand. -->

# Configuration

Every setting of the product, read from the environment and validated once at start: a bad value stops
the process with one line per problem, naming the variable. An empty value means unset. The defaults
work on a laptop as they are; [\`.env.example\`](../.env.example) lists the same variables with the
product defaults.

Two profiles share one schema. \`npm start\` runs the \`product\` profile and \`npm test\` the \`test\`
profile; they differ only in default ports (the test profile's are 10 000 higher) and data, so both can
run at once. The "test profile" column says where its default differs.

${table}

The scripts and the test suite also read a few variables that are not part of the product's
configuration; [\`.env.example\`](../.env.example) lists them at its end (\`KEEP_TEST_STACK\`, \`CHROMIUM_PATH\`, \`PORTAL_TEST_LOGS\`).

This page is generated from the schema in [\`src/config.ts\`](../src/config.ts): change a default or a
meaning there (\`.describe(…)\` on the field), then run \`npm run docs:generate\`. The test suite fails
when this page and the schema disagree.
`;
}
