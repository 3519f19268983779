import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's API fuzz: schemathesis (PyPI, in a project-local virtualenv: ensure-schemathesis.sh) run
 * against a served /openapi.json, with the hooks of hooks.py (the envelope check). Used by test/fuzz.
 */

const here = dirname(fileURLToPath(import.meta.url));

/** The `st` command, installed on first use (a minute or so; cached in .stack/tools). */
export function ensureSchemathesis(): string {
  return execFileSync('bash', [join(here, 'ensure-schemathesis.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export interface FuzzOptions {
  /** Where /openapi.json is served; the operations are called on the same origin. */
  schemaUrl: string;
  /** The Authorization header's bearer token for every request (none: no header). */
  token?: string;
  seed: number;
  /** positive (valid data), negative (only invalid data) or all. */
  mode: 'positive' | 'negative' | 'all';
  maxExamples: number;
  /** Schemathesis checks besides our `envelope` (hooks.py). */
  checks?: string[];
  phases?: ('examples' | 'coverage' | 'fuzzing' | 'stateful')[];
  /** Only operations whose path matches (a regular expression). */
  includePathRegex?: string;
  excludePathRegex?: string;
  /**
   * Concurrent schemathesis workers (default 1: CPython 3.11 before 3.11.8 fails with "AST constructor
   * recursion depth mismatch" when several threads compile at once, gh-106905).
   */
  workers?: number;
  /** Seconds for the whole run (schemathesis's --max-time). */
  maxTimeSeconds?: number;
}

export interface FuzzFailure {
  operation: string;
  check: string;
  message: string;
}

export interface FuzzReport {
  exitCode: number;
  /** Test cases run (requests sent, roughly). */
  operations: number;
  failures: FuzzFailure[];
  /**
   * Requests that change something (not GET) sent with data schemathesis generated as valid. In a
   * negative run it still sends some (an operation whose only parameter is an id it learned); a run
   * meant to send only invalid requests checks this is empty.
   */
  validWrites: string[];
  /** Errors of the run itself (schema not loaded, network): a run with errors proves nothing. */
  errors: string[];
  durationMs: number;
  output: string;
}

/** Runs schemathesis once and reads its ndjson events into a report. */
export async function runSchemathesis(st: string, options: FuzzOptions): Promise<FuzzReport> {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
  const events = join(dir, 'events.ndjson');
  const args = [
    'run',
    options.schemaUrl,
    '--checks',
    ['not_a_server_error', 'envelope', ...(options.checks ?? [])].join(','),
    '--mode',
    options.mode,
    '--seed',
    String(options.seed),
    '--max-examples',
    String(options.maxExamples),
    '--workers',
    String(options.workers ?? 1),
    '--continue-on-failure',
    '--no-shrink',
    '--suppress-health-check',
    'all',
    '--request-timeout',
    '10',
    '--report',
    'ndjson',
    '--report-ndjson-path',
    events,
    '--output-truncate',
    'true',
    '--warnings',
    'off',
  ];
  if (options.token) args.push('--header', `Authorization: Bearer ${options.token}`);
  if (options.phases) args.push('--phases', options.phases.join(','));
  if (options.includePathRegex) args.push('--include-path-regex', options.includePathRegex);
  if (options.excludePathRegex) args.push('--exclude-path-regex', options.excludePathRegex);
  if (options.maxTimeSeconds) args.push('--max-time', String(options.maxTimeSeconds));
  const started = Date.now();
  const child = spawn(st, args, {
    env: {
      ...process.env,
      PYTHONPATH: here,
      SCHEMATHESIS_HOOKS: 'hooks',
      NO_COLOR: '1',
      SCHEMATHESIS_TELEMETRY: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const report: FuzzReport = {
    exitCode,
    operations: 0,
    failures: [],
    validWrites: [],
    errors: [],
    durationMs: Date.now() - started,
    output,
  };
  try {
    for (const line of readFileSync(events, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      readEvent(JSON.parse(line), report);
    }
  } catch (error) {
    report.errors.push(`no event report: ${(error as Error).message}`);
  } finally {
    if (process.env.FUZZ_KEEP_EVENTS) report.output += `\n[fuzz] events kept in ${events}\n`;
    else rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

/** One ndjson event of schemathesis's report: keeps failed checks, errors and the test-case count. */
// biome-ignore lint/suspicious/noExplicitAny: schemathesis's event shapes
function readEvent(event: any, report: FuzzReport): void {
  const [kind, payload] = Object.entries(event)[0] ?? [];
  // biome-ignore lint/suspicious/noExplicitAny: schemathesis's event shapes
  const p = payload as any;
  if (kind === 'ScenarioFinished' && p?.recorder) {
    const label = p.recorder.label ?? '?';
    for (const cases of Object.values(p.recorder.checks ?? {}) as unknown[][]) {
      for (const check of cases as {
        name: string;
        status: string;
        failure_info?: { failure?: { title?: string; message?: string } };
      }[]) {
        if (check.status === 'failure') {
          report.failures.push({
            operation: label,
            check: check.name,
            message: [check.failure_info?.failure?.title, check.failure_info?.failure?.message]
              .filter(Boolean)
              .join(': '),
          });
        }
      }
    }
    report.operations += Object.keys(p.recorder.cases ?? {}).length;
    // biome-ignore lint/suspicious/noExplicitAny: schemathesis's event shapes
    for (const [id, kase] of Object.entries(p.recorder.cases ?? {}) as [string, any][]) {
      const value = kase?.value ?? kase;
      const sent = p.recorder.interactions?.[id];
      if (sent && value?.method !== 'GET' && value?.meta?.generation?.mode !== 'negative') {
        report.validWrites.push(
          `${value?.method} ${sent.request?.uri ?? value?.path} → ${sent.response?.status_code}`,
        );
      }
    }
  }
  if (kind === 'NonFatalError' || kind === 'FatalError') {
    const info = p?.info ?? p?.value ?? p;
    report.errors.push(
      `${p?.label ?? ''} ${typeof info === 'string' ? info : JSON.stringify(info).slice(0, 1500)}`.trim(),
    );
  }
}
