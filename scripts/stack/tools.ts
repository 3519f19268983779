import { execFileSync, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { Config } from '../../src/config';
import { PROJECT_ROOT, stackRoot, toolsBin } from './paths';
import { StackError } from './processes';

/** The pinned Temporal CLI: 1.5.1 is the last tag that `go install` can build (later ones use `replace`). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
/** What a 1.5.1 CLI prints: release builds say `1.5.1`, go-installed ones `0.0.0-DEV (Server 1.29.1, UI 2.42.1)`. */
const TEMPORAL_VERSION_MARKERS = ['1.5.1', 'Server 1.29.1, UI 2.42.1'];
export const STRIPE_MOCK_MODULE = 'github.com/stripe/stripe-mock@v0.203.0';

/** The executable `command` would run as, searching `path` (default: this process's PATH). */
export function which(command: string, path: string | undefined = process.env.PATH): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
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
  {
    slowHint = '',
    alternative = '',
    env = process.env,
    gobin = toolsBin(config),
  }: { slowHint?: string; alternative?: string; env?: NodeJS.ProcessEnv; gobin?: string },
): void {
  if (!which('go', env.PATH)) {
    throw new StackError(
      `${what} is missing: it is not built in ${gobin}${alternative}, and Go, needed to build it ` +
        `(go install ${module}), is not on PATH. Install Go (https://go.dev/dl, or Debian: apt-get install golang) and retry.`,
    );
  }
  log(`building ${what} (${module}) into ${gobin}${slowHint}`);
  const started = Date.now();
  const result = spawnSync('go', ['install', module], {
    env: { ...env, GOBIN: gobin },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new StackError(`go install ${module} failed (exit ${result.status})`);
  log(`built ${what} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * The Temporal CLI from PATH when it is 1.5.1, else the project's cached build, built on first use.
 * `env` is the environment to search and build with (tests pass a PATH without the tools).
 */
export function ensureTemporalCli(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const onPath = which('temporal', env.PATH);
  if (onPath && temporalVersionOk(onPath)) return onPath;
  const cached = join(toolsBin(config), 'temporal');
  if (existsSync(cached) && temporalVersionOk(cached)) return cached;
  goInstall(config, TEMPORAL_CLI_MODULE, 'the Temporal CLI 1.5.1', log, {
    slowHint: '; about 4 minutes with cold Go caches',
    alternative: onPath
      ? ` and the \`temporal\` on PATH (${onPath}) is not version 1.5.1`
      : ' nor is a `temporal` 1.5.1 on PATH',
    env,
  });
  if (!temporalVersionOk(cached))
    throw new StackError(`${cached} was built but does not report version 1.5.1`);
  return cached;
}

export function ensureStripeMock(
  config: Config,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const cached = join(toolsBin(config), 'stripe-mock');
  if (existsSync(cached)) return cached;
  goInstall(config, STRIPE_MOCK_MODULE, 'stripe-mock v0.203.0', log, { env });
  return cached;
}

/** The Temporal server and its SQL schema tool (server mode), and the Temporal UI server beside it. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_UI_MODULE = 'github.com/temporalio/ui-server/v2/cmd/server@v2.42.1';

/**
 * One go-installed tool in its own GOBIN (the server and the UI server are both named `server`), with a
 * stamp naming the module it was built from. Looked for under this STACK_DIR, then under the project's
 * default `.stack` (tools are shared by every stack folder, as the bench does), built when in neither.
 */
function ensureGoTool(
  config: Config,
  {
    folder,
    binary,
    module,
    what,
    slowHint,
    log,
  }: {
    folder: string;
    binary: string;
    module: string;
    what: string;
    slowHint: string;
    log: (line: string) => void;
  },
): string {
  const stamp = (dir: string) => join(dir, `.${binary}.module`);
  const built = (dir: string) =>
    existsSync(join(dir, binary)) &&
    existsSync(stamp(dir)) &&
    readFileSync(stamp(dir), 'utf8').trim() === module;
  const own = join(stackRoot(config), 'tools', folder, 'bin');
  for (const dir of [own, join(PROJECT_ROOT, '.stack', 'tools', folder, 'bin')]) {
    if (built(dir)) return join(dir, binary);
  }
  // A binary built by hand (or before stamps) is trusted only once it is stamped after a build.
  goInstall(config, module, what, log, { slowHint, gobin: own });
  writeFileSync(stamp(own), `${module}\n`);
  return join(own, binary);
}

/** The Temporal server 1.29.1 (`server`) and its schema tool (`sql`, i.e. temporal-sql-tool). */
export function ensureTemporalServer(
  config: Config,
  log: (line: string) => void,
): { server: string; sqlTool: string } {
  const common = { folder: 'temporal-server', log };
  return {
    server: ensureGoTool(config, {
      ...common,
      binary: 'server',
      module: TEMPORAL_SERVER_MODULE,
      what: `the Temporal server ${TEMPORAL_SERVER_VERSION}`,
      slowHint: '; about 3-4 minutes with cold Go caches',
    }),
    sqlTool: ensureGoTool(config, {
      ...common,
      binary: 'sql',
      module: TEMPORAL_SQL_TOOL_MODULE,
      what: `temporal-sql-tool ${TEMPORAL_SERVER_VERSION}`,
      slowHint: '; under a minute after the server',
    }),
  };
}

export function ensureTemporalUi(config: Config, log: (line: string) => void): string {
  return ensureGoTool(config, {
    folder: 'temporal-ui',
    binary: 'server',
    module: TEMPORAL_UI_MODULE,
    what: 'the Temporal UI server 2.42.1',
    slowHint: '; about 2 minutes with cold Go caches',
    log,
  });
}

/** Debian's versioned PostgreSQL directories; the issue mandates 15. */
export const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

export interface PostgresSearch {
  /** PATH to search for `initdb` (default: this process's). */
  path?: string;
  /** Where Debian keeps `<version>/bin` (default /usr/lib/postgresql). */
  debianRoot?: string;
}

/**
 * PostgreSQL's server binaries (a directory holding initdb and pg_ctl): Debian's PostgreSQL 15 first,
 * then `initdb` on PATH, then any other Debian version (newest first).
 */
export function findPostgresBin({
  path = process.env.PATH,
  debianRoot = DEBIAN_POSTGRES_ROOT,
}: PostgresSearch = {}): string | null {
  const hasTools = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const pg15 = join(debianRoot, '15', 'bin');
  if (hasTools(pg15)) return pg15;
  const initdb = which('initdb', path);
  if (initdb) {
    // /usr/local/bin/initdb is often a symlink into the versioned directory, where pg_ctl lives too.
    const dir = dirname(realpathSync(initdb));
    if (hasTools(dir)) return dir;
  }
  for (const version of ['17', '16']) {
    const dir = join(debianRoot, version, 'bin');
    if (hasTools(dir)) return dir;
  }
  return null;
}

export const POSTGRES_MISSING_MESSAGE =
  "PostgreSQL's server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/15/bin or on PATH: " +
  'install PostgreSQL 15 (Debian 12: apt-get install postgresql) or set DATABASE_URL to a running Postgres';

/**
 * The PostgreSQL binaries, installing Debian's `postgresql` package when they are missing and we are
 * root with apt-get (`install: false` only looks).
 */
export function ensurePostgresBin(
  log: (line: string) => void,
  { install = true, ...search }: PostgresSearch & { install?: boolean } = {},
): string {
  const found = findPostgresBin(search);
  if (found) return found;
  if (install && process.getuid?.() === 0 && which('apt-get')) {
    log("PostgreSQL's binaries are missing: installing Debian's postgresql package");
    const update = spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    const installed = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (update.status === 0 && installed.status === 0) {
      const after = findPostgresBin(search);
      if (after) return after;
    }
  }
  throw new StackError(POSTGRES_MISSING_MESSAGE);
}
