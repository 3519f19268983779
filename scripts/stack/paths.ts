import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Everything the stack builds or runs lives under one git-ignored folder (STACK_DIR, default `.stack`). */
export function stackRoot(config: Config): string {
  return resolve(PROJECT_ROOT, config.STACK_DIR);
}

/** Built tools are shared by both profiles: building the Temporal CLI once is enough. */
export function toolsBin(config: Config): string {
  return join(stackRoot(config), 'tools', 'bin');
}

/** Per profile and component: its data, its log, its pid file. */
export function componentDir(config: Config, component: string): string {
  const dir = join(stackRoot(config), config.STACK_PROFILE, component);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function lockFile(config: Config): string {
  return join(stackRoot(config), `${config.STACK_PROFILE}.lock`);
}
