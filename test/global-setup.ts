import { mkdir, writeFile } from 'node:fs/promises';
import { ensureSearchAttributes } from '../scripts/stack/search-attributes';
import { stackDown, stackUp } from '../scripts/stack/stack';
import { createSql } from '../src/db/client';
import { checkInvariants, formatReport } from '../src/invariants';
import { createStripe } from '../src/stripe/client';
import { testConfig } from './support/config';
import { databaseNow, TEST_PURCHASE_DEADLINE_MS } from './support/invariants';

/**
 * Brings the test stack up once per run (the `test` profile: its own ports and data, Temporal in
 * memory), or reuses one already running, and at the end stops only what this run started.
 *
 * Before stopping, it runs the invariant checker over every purchase this run made through checkout
 * (money and credits agree in Postgres and in the Stripe emulator; nothing left hanging past
 * TEST_PURCHASE_DEADLINE_MS), saves the report as test-results/invariants.json, and fails the run
 * (exit code 1, the violations printed after vitest's summary) on any violation.
 */

export default async function setup(): Promise<() => Promise<void>> {
  const config = testConfig();
  const log = (line: string) => console.log(`[stack:test] ${line}`);
  const started = await stackUp(config, log);
  // A stack kept running from before the list of search attributes grew gets the new ones now.
  const added = await ensureSearchAttributes(config);
  if (added.length > 0) log(`temporal: search attributes registered: ${added.join(', ')}`);
  const sql = createSql(config.databaseUrl, {
    maxConnections: 2,
    applicationName: 'credit-pack-test-invariants',
  });
  const runStartedAt = await databaseNow(sql);
  return async () => {
    // Failed until the check says otherwise: a check that never finishes must not pass the run.
    const exitCodeBefore = process.exitCode;
    process.exitCode = 1;
    try {
      const report = await checkInvariants(
        { sql, stripe: createStripe(config) },
        {
          since: runStartedAt,
          onlyCheckoutPurchases: true,
          // Files with an emulator of their own check their purchases when they close (test/support/invariants.ts).
          skipCustomersUnknownToStripe: true,
          purchaseDeadlineMs: TEST_PURCHASE_DEADLINE_MS,
        },
      );
      await mkdir('test-results', { recursive: true });
      await writeFile('test-results/invariants.json', `${JSON.stringify(report, null, 2)}\n`);
      if (report.violations.length > 0) {
        // vitest ignores a teardown's exception, so the run fails by its exit code, after this report.
        console.error(`\n✗ MONEY INVARIANTS VIOLATED after the suite\n${formatReport(report)}`);
      } else {
        process.exitCode = exitCodeBefore;
      }
    } catch (error) {
      console.error('✗ the invariant check after the suite could not run:', error);
    } finally {
      await sql.end({ timeout: 5 });
      if (process.env.KEEP_TEST_STACK !== '1') {
        // Quiet: vitest's summary stays the last thing a run prints; only failures to stop are reported.
        await stackDown(
          config,
          (line) => line.includes('could not stop') && console.error(`[stack:test] ${line}`),
          started,
        );
      }
    }
  };
}
