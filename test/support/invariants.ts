import type Stripe from 'stripe';
import type { Sql } from '../../src/db/client';
import { checkInvariants, formatReport } from '../../src/invariants';

/** Test waits are seconds long: a purchase of a test run still open after five minutes is stuck. */
export const TEST_PURCHASE_DEADLINE_MS = 5 * 60 * 1000;

/** The database's clock, to scope a later check to what was made after this instant. */
export async function databaseNow(sql: Sql): Promise<Date> {
  const [clock] = await sql<{ now: Date }[]>`select now() as now`;
  return clock?.now ?? new Date();
}

/**
 * Runs the invariant checker over the purchases made through checkout since `since` (by any test file
 * running meanwhile) whose Stripe customers `stripe` knows — each Stripe emulator is checked by the
 * files that use it — and throws, naming every violation, if one fails. Used when a test file closes
 * its environment, after it settled its own open purchases.
 */
export async function expectInvariantsHold(deps: { sql: Sql; stripe: Stripe }, since: Date): Promise<void> {
  const report = await checkInvariants(deps, {
    since,
    onlyCheckoutPurchases: true,
    skipCustomersUnknownToStripe: true,
    purchaseDeadlineMs: TEST_PURCHASE_DEADLINE_MS,
  });
  if (report.violations.length > 0) {
    throw new Error(`money invariants violated (purchases since this file started)\n${formatReport(report)}`);
  }
}
