import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../src/config';
import { toolsBin } from './paths';
import { StackError } from './processes';

/** The pinned Temporal CLI: 1.5.1 is the last tag that `go install` can build (later ones use `replace`). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** What a 1.5.1 CLI prints: release builds say `1.5.1`, go-installed ones `0.0.0-DEV (Server 1.29.1, UI 2.42.1)`. */
const TEMPORAL_VERSION_MARKERS = ['1.5.1', 'Server 1.29.1, UI 2.42.1'];
export const STRIPE_MOCK_MODULE = 'github.com/stripe/stripe-mock@v0.203.0';

export function which(command: string): string | null {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path ? path : null;
}

function temporalVersionOk(binary: string): boolean {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return TEMPORAL_VERSION_MARKERS.some((marker) => out.includes(marker));
  } catch {
    return false;
  }
}

function goInstall(
  config: Config,
  module: string,
  what: string,
  log: (line: string) => void,
  slowHint = '',
): void {
  if (!which('go')) {
    throw new StackError(`${what} is not built and Go is missing: install Go (https://go.dev/dl) and retry`);
  }
  log(`building ${what} (${module}) into ${toolsBin(config)}${slowHint}`);
  const started = Date.now();
  const result = spawnSync('go', ['install', module], {
    env: { ...process.env, GOBIN: toolsBin(config) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new StackError(`go install ${module} failed (exit ${result.status})`);
  log(`built ${what} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** The Temporal CLI from PATH when it is 1.5.1, else the project's cached build, built on first use. */
export function ensureTemporalCli(config: Config, log: (line: string) => void): string {
  const onPath = which('temporal');
  if (onPath && temporalVersionOk(onPath)) return onPath;
  const cached = join(toolsBin(config), 'temporal');
  if (existsSync(cached) && temporalVersionOk(cached)) return cached;
  goInstall(
    config,
    TEMPORAL_CLI_MODULE,
    'the Temporal CLI 1.5.1',
    log,
    '; about 4 minutes with cold Go caches',
  );
  if (!temporalVersionOk(cached))
    throw new StackError(`${cached} was built but does not report version 1.5.1`);
  return cached;
}

export function ensureStripeMock(config: Config, log: (line: string) => void): string {
  const cached = join(toolsBin(config), 'stripe-mock');
  if (existsSync(cached)) return cached;
  goInstall(config, STRIPE_MOCK_MODULE, 'stripe-mock v0.203.0', log);
  return cached;
}

/** PostgreSQL's server binaries: PATH first, then Debian's versioned directory. */
export function findPostgresBin(): string | null {
  const initdb = which('initdb');
  if (initdb) return join(initdb, '..');
  for (const version of ['17', '16', '15']) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  return null;
}

export function ensurePostgresBin(log: (line: string) => void): string {
  const found = findPostgresBin();
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get')) {
    log("PostgreSQL's binaries are missing: installing Debian's postgresql package");
    const update = spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (update.status === 0 && install.status === 0) {
      const after = findPostgresBin();
      if (after) return after;
    }
  }
  throw new StackError(
    "PostgreSQL's initdb/pg_ctl were not found: install PostgreSQL 15 (Debian: apt-get install postgresql) or set DATABASE_URL",
  );
}
