import type Stripe from 'stripe';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { createAutoTopUpActivities, type StartPurchase } from './auto-top-up';
import { createDeliveryActivities } from './deliveries';
import { createDiagnosticsActivities } from './diagnostics';
import { createEligibilityActivities } from './eligibility';
import { createLedgerActivities } from './ledger';
import { createPaymentActivities } from './payments';
import { createRefundActivities } from './refunds';

/** The clients every activity gets from the worker (tests pass their own, pointed at the test stack). */
export interface ActivityDeps {
  config: Config;
  sql: Sql;
  stripe: Stripe;
  /** How the auto top-up workflow's activity starts an owed top-up (src/purchases: purchaseStarter). */
  startPurchase?: StartPurchase | undefined;
}

/**
 * Builds every activity the worker registers, one module per concern: eligibility (Postgres reads),
 * payments (Stripe), ledger (Postgres writes), refunds (an operator's refund). Workflows type their proxies with
 * `import type { Activities }`, so activity code never enters the workflow bundle.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
    ...createEligibilityActivities(deps),
    ...createPaymentActivities(deps),
    ...createLedgerActivities(deps),
    ...createRefundActivities(deps),
    ...createDeliveryActivities(deps),
    ...createAutoTopUpActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Each concern's activities alone: the workflow's proxies are typed by group, so a database proxy cannot call a charge. */
export type DatabaseActivities = ReturnType<typeof createEligibilityActivities> &
  ReturnType<typeof createLedgerActivities>;
export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
export type RefundActivities = ReturnType<typeof createRefundActivities>;
export type DeliveryActivities = ReturnType<typeof createDeliveryActivities>;
export type AutoTopUpActivities = ReturnType<typeof createAutoTopUpActivities>;
export type DiagnosticsActivities = ReturnType<typeof createDiagnosticsActivities>;
