import type { Config } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import type { Component } from './component';
import { lockFile } from './paths';
import { databaseAnswers, postgresCluster } from './postgres';
import { StackError, waitUntil, withLock } from './processes';
import { stripeEmulator, stripeMock } from './stripe';
import { temporal } from './temporal';
import { temporalServer, temporalUi } from './temporal-server';

/** Start order: storage first, then the services that use it. Stopped in reverse. */
export const components: Component[] = [
  postgresCluster,
  temporal,
  temporalServer,
  temporalUi,
  stripeEmulator,
  stripeMock,
];

export type Log = (line: string) => void;

/** Long enough for a cold build of the Temporal CLI by another process holding the lock. */
const LOCK_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Brings every enabled component up (idempotent) and applies migrations.
 * Returns the names of the components this call started, so a caller can stop exactly those.
 */
export async function stackUp(config: Config, log: Log): Promise<string[]> {
  return withLock(lockFile(config), LOCK_TIMEOUT_MS, async () => {
    const started: string[] = [];
    try {
      for (const component of components) {
        if (!component.enabled(config)) continue;
        if (await component.up(config, log)) started.push(component.name);
        else log(`${component.name} already running`);
      }
      await waitUntil('Postgres at DATABASE_URL', () => databaseAnswers(config.databaseUrl), {
        timeoutMs: 15_000,
      });
      const applied = await migrate(config.databaseUrl, (line) => log(`postgres: ${line}`));
      log(applied === 0 ? 'postgres: schema up to date' : `postgres: applied ${applied} migration(s)`);
    } catch (error) {
      // Leave nothing half-started behind.
      await stopComponents(config, started, log);
      throw error;
    }
    return started;
  });
}

async function stopComponents(config: Config, names: string[] | 'all', log: Log): Promise<void> {
  for (const component of [...components].reverse()) {
    if (names !== 'all' && !names.includes(component.name)) continue;
    try {
      await component.down(config, log);
    } catch (error) {
      log(`${component.name}: could not stop: ${(error as Error).message}`);
    }
  }
}

/** Stops what this project started: every component with `names` omitted, or just the named ones. */
export async function stackDown(config: Config, log: Log, names?: string[]): Promise<void> {
  await withLock(lockFile(config), LOCK_TIMEOUT_MS, () => stopComponents(config, names ?? 'all', log));
}

export async function stackStatus(
  config: Config,
): Promise<{ name: string; state: string; detail: string }[]> {
  const rows = [];
  for (const component of components) {
    if (!component.enabled(config)) {
      rows.push({ name: component.name, state: 'disabled', detail: 'not used with this configuration' });
      continue;
    }
    rows.push({ name: component.name, ...(await component.status(config)) });
  }
  return rows;
}

export function stackUrls(config: Config): Record<string, string> {
  return Object.assign({}, ...components.filter((c) => c.enabled(config)).map((c) => c.urls(config)));
}

export { StackError };
