import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Config, LOCAL_DB_NAME, LOCAL_DB_USER } from '../../src/config';
import { createSql } from '../../src/db/client';
import type { Component } from './component';
import { componentDir } from './paths';
import { portOpen, StackError } from './processes';
import { ensurePostgresBin } from './tools';

/** PostgreSQL refuses to run as root; as root we run it as the system's `postgres` user. */
const SERVICE_USER = 'postgres';
const isRoot = () => process.getuid?.() === 0;

function run(bin: string, tool: string, args: string[], what: string): string {
  const command = isRoot() ? 'runuser' : join(bin, tool);
  const fullArgs = isRoot() ? ['-u', SERVICE_USER, '--', join(bin, tool), ...args] : args;
  const result = spawnSync(command, fullArgs, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    throw new StackError(
      `${what} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`,
    );
  }
  return result.stdout;
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new StackError(
      `running as root needs the '${name}' system user (Debian's postgresql package creates it)`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** As root, the service user must be able to reach its data dir: give every ancestor o+x (traverse only). */
function makeReachable(dir: string, log: (line: string) => void): void {
  const { uid, gid } = userIds(SERVICE_USER);
  chownSync(dir, uid, gid);
  for (let current = dirname(dir); current !== dirname(current); current = dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, mode | 0o001);
      log(`postgres: allowed the '${SERVICE_USER}' user to traverse ${current} (o+x)`);
    }
  }
}

function paths(config: Config) {
  const dir = componentDir(config, 'postgres');
  return { dir, data: join(dir, 'data'), log: join(dir, 'postgres.log') };
}

function clusterRunning(bin: string, data: string): boolean {
  if (!existsSync(join(data, 'PG_VERSION'))) return false;
  const command = isRoot() ? 'runuser' : join(bin, 'pg_ctl');
  const args = isRoot()
    ? ['-u', SERVICE_USER, '--', join(bin, 'pg_ctl'), 'status', '-D', data]
    : ['status', '-D', data];
  return spawnSync(command, args, { encoding: 'utf8' }).status === 0;
}

export async function databaseAnswers(databaseUrl: string): Promise<boolean> {
  const sql = createSql(databaseUrl, { maxConnections: 1, applicationName: 'credit-pack-stack' });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function ensureDatabase(config: Config): Promise<void> {
  const adminUrl = config.databaseUrl.replace(/\/[^/]+$/, '/postgres');
  const sql = createSql(adminUrl, { maxConnections: 1, applicationName: 'credit-pack-stack' });
  try {
    const [existing] = await sql`select 1 as found from pg_database where datname = ${LOCAL_DB_NAME}`;
    if (!existing) await sql`create database ${sql(LOCAL_DB_NAME)}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A project-local cluster (initdb on first use, pg_ctl start/stop), loopback TCP only, no Unix socket.
 * With DATABASE_URL set this component is disabled and the given database is used as it is.
 */
export const postgresCluster: Component = {
  name: 'postgres',
  enabled: (config) => config.postgresIsLocal,
  urls: (config) => ({ Postgres: config.databaseUrl }),

  async up(config, log) {
    const bin = ensurePostgresBin(log);
    const { dir, data, log: logFile } = paths(config);
    if (clusterRunning(bin, data)) return false;
    if (await portOpen(config.BIND_HOST, config.POSTGRES_PORT)) {
      throw new StackError(
        `postgres: port ${config.BIND_HOST}:${config.POSTGRES_PORT} is taken by another process; stop it, set POSTGRES_PORT, or set DATABASE_URL`,
      );
    }
    if (isRoot()) makeReachable(dir, log);
    if (!existsSync(join(data, 'PG_VERSION'))) {
      log(`postgres: creating a cluster in ${data}`);
      run(
        bin,
        'initdb',
        ['-D', data, '-U', LOCAL_DB_USER, '--auth=trust', '-E', 'UTF8', '--no-locale'],
        'initdb',
      );
    }
    const options = [
      `-p ${config.POSTGRES_PORT}`,
      `-c listen_addresses=${config.BIND_HOST}`,
      "-c unix_socket_directories=''",
      '-c max_connections=200',
    ];
    // Tests trade durability for speed; the product run keeps PostgreSQL's safe defaults.
    if (config.STACK_PROFILE === 'test') options.push('-c fsync=off', '-c synchronous_commit=off');
    run(
      bin,
      'pg_ctl',
      ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', options.join(' ')],
      'pg_ctl start',
    );
    await ensureDatabase(config);
    log(`postgres started (data ${data}, log ${logFile})`);
    return true;
  },

  async down(config, log) {
    const bin = ensurePostgresBin(log);
    const { data } = paths(config);
    if (!clusterRunning(bin, data)) return;
    run(bin, 'pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60'], 'pg_ctl stop');
    log('postgres stopped');
  },

  async status(config) {
    const { data } = paths(config);
    const bin = ensurePostgresBin(() => {});
    if (clusterRunning(bin, data)) return { state: 'running', detail: data };
    return (await portOpen(config.BIND_HOST, config.POSTGRES_PORT))
      ? { state: 'external', detail: 'its port is held by a process this project did not start' }
      : { state: 'stopped', detail: '' };
  },
};
