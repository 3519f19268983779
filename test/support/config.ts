import { type Config, loadConfig } from '../../src/config';

/**
 * The configuration every test uses: the `test` profile (its own ports and data dirs), which the
 * vitest global setup has brought up. Deterministic, so no values need passing between processes.
 */
export function testConfig(overrides: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({ ...process.env, STACK_PROFILE: 'test', ...overrides });
}
