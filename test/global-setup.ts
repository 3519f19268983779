import { stackDown, stackUp } from '../scripts/stack/stack';
import { testConfig } from './support/config';

/**
 * Brings the test stack up once per run (the `test` profile: its own ports and data, Temporal in
 * memory), or reuses one already running, and at the end stops only what this run started.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const config = testConfig();
  const log = (line: string) => console.log(`[stack:test] ${line}`);
  const started = await stackUp(config, log);
  return async () => {
    if (process.env.KEEP_TEST_STACK === '1') return;
    // Quiet: vitest's summary stays the last thing a run prints; only failures to stop are reported.
    await stackDown(
      config,
      (line) => line.includes('could not stop') && console.error(`[stack:test] ${line}`),
      started,
    );
  };
}
