import { spawnSync } from 'node:child_process';

/** PostgreSQL 15's pgbench, as Debian installs it (the same binaries the stack's Postgres runs from). */
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

export interface PgbenchFigures {
  clients: number;
  transactions: number;
  perSecond: number;
  latencyAvgMs: number;
}

/**
 * Runs a pgbench script (prepared statements, `clients` connections, `transactionsPerClient` each) against
 * `databaseUrl`: the floor a product transaction is compared with. Null (and the reason logged) when
 * pgbench fails or prints no figures.
 */
export function runPgbench(options: {
  databaseUrl: string;
  scriptPath: string;
  clients: number;
  transactionsPerClient: number;
  log: (line: string) => void;
}): PgbenchFigures | null {
  const url = new URL(options.databaseUrl);
  const run = spawnSync(
    PGBENCH,
    [
      '-n',
      '-M',
      'prepared',
      '-h',
      url.hostname,
      '-p',
      url.port,
      '-U',
      url.username,
      '-c',
      String(options.clients),
      '-j',
      '2',
      '-t',
      String(options.transactionsPerClient),
      '-f',
      options.scriptPath,
      url.pathname.slice(1),
    ],
    { encoding: 'utf8' },
  );
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(run.stdout)?.[1];
  if (run.status !== 0 || tps === undefined) {
    options.log(`pgbench failed (exit ${run.status}): ${run.stderr?.trim()} ${run.stdout?.trim()}`);
    return null;
  }
  return {
    clients: options.clients,
    transactions: options.transactionsPerClient * options.clients,
    perSecond: Number(tps),
    latencyAvgMs: Number(latency),
  };
}
