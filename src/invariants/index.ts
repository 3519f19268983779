import type Stripe from 'stripe';
import type { Query } from '../db/client';
import { databaseNow } from '../db/health';
import {
  knownPurchasesAndOrganizations,
  type PurchaseLedgerFacts as PurchaseFacts,
  purchasesUpdatedAt,
  readCustomerTotals,
  readPurchaseLedgerFacts,
} from '../db/invariant-queries';
import { isTerminalPurchaseStatus, type PurchaseStatus } from '../domain/purchase-states';
import { autoTopUpViolations } from './auto-top-ups';
import { receiptAndEventViolations } from './receipts-events';

/**
 * The money invariants, checked from the outside against the business record (Postgres) and the
 * payment processor (Stripe). They hold for every purchase whatever path it took; a violation means
 * a customer was charged without credits, credited without a charge, charged twice, or left hanging.
 * What each one states is in docs/invariants.md#the-list (their one home; `invariantNames` below is
 * the same list, and test/docs checks that the two agree).
 *
 * Read-only: it never changes a row or calls a mutating Stripe endpoint. Postgres is read before
 * Stripe; a purchase that changed in between (a refund landing) is re-read and its findings dropped,
 * so a check run beside live traffic does not report a purchase caught mid-step.
 */

export const invariantNames = [
  'credits_match_charge',
  'grants_match_completed',
  'balance_matches_ledger',
  'one_charge',
  'completed_charged',
  'refunded_in_full',
  'nothing_kept_unsettled',
  'no_stuck_purchase',
  'money_has_purchase',
  'completion_recorded',
  'one_auto_top_up_in_flight',
  'usage_within_balance',
] as const;
export type InvariantName = (typeof invariantNames)[number];

export interface InvariantViolation {
  invariant: InvariantName;
  organizationId: string;
  customerId: string;
  purchaseId: string | null;
  message: string;
}

/** A purchase the checker cannot judge alone (a partial refund made outside the product). */
export interface InvariantReview {
  purchaseId: string;
  reason: string;
}

export interface InvariantReport {
  checkedAt: string;
  purchasesChecked: number;
  customersChecked: number;
  /** false when no Stripe client was given: the Stripe-side invariants were skipped. */
  stripeChecked: boolean;
  /** Stripe customers this Stripe account does not know, left out (only with skipCustomersUnknownToStripe). */
  stripeCustomersSkipped: string[];
  violations: InvariantViolation[];
  reviews: InvariantReview[];
}

export interface InvariantOptions {
  /** Only this organization's purchases and customers. */
  organizationId?: string;
  /** Only purchases and customers created at or after this instant (a test run's own data). */
  since?: Date;
  /**
   * Only purchases recorded by checkout (they carry a workflow id), and customers with no other kind:
   * the test suite's SQL fixtures write bare purchase rows to exercise database constraints.
   */
  onlyCheckoutPurchases?: boolean;
  /**
   * Leave out the Stripe side of customers this Stripe account does not know, instead of reporting
   * their charges missing: tests run several Stripe emulators at once, each file checking its own.
   */
  skipCustomersUnknownToStripe?: boolean;
  /** A non-terminal purchase older than this (from its creation) is stuck. */
  purchaseDeadlineMs: number;
  /** Upper bound on Stripe objects (PaymentIntents, refunds) read, so a runaway account cannot hang the check. */
  maxStripeObjects?: number;
  /** Stripe calls in flight at once. */
  stripeConcurrency?: number;
}

/** A pool or a transaction: the checker reads only, so it can judge uncommitted state too (tests). */
type Sql = Query;

const UNSETTLED_TERMINAL: PurchaseStatus[] = ['ineligible', 'expired', 'failed', 'canceled'];

/** Checks every invariant; `stripe: null` checks the Postgres side only. */
export async function checkInvariants(
  deps: { sql: Sql; stripe: Stripe | null },
  options: InvariantOptions,
): Promise<InvariantReport> {
  const violations: InvariantViolation[] = [];
  const reviews: InvariantReview[] = [];
  // The database's clock: purchase ages compare like with like.
  const checkedAt = await databaseNow(deps.sql);

  const purchases = await readPurchaseLedgerFacts(deps.sql, options, checkedAt);
  for (const purchase of purchases) {
    violations.push(...ledgerViolations(purchase, options.purchaseDeadlineMs));
    if (purchase.partialRefundReview && purchase.status === 'completed') {
      reviews.push({ purchaseId: purchase.id, reason: 'partially refunded after completion' });
    }
  }
  const customers = await customerViolations(deps.sql, options);
  violations.push(...customers.violations);
  violations.push(...(await receiptAndEventViolations(deps.sql, options)));
  violations.push(...(await autoTopUpViolations(deps.sql, options)));

  const stripeCustomersSkipped: string[] = [];
  if (deps.stripe) {
    const stripeSide = await stripeViolations(deps.stripe, deps.sql, purchases, options);
    violations.push(...stripeSide.violations);
    reviews.push(...stripeSide.reviews);
    stripeCustomersSkipped.push(...stripeSide.skipped);
  }
  return {
    checkedAt: checkedAt.toISOString(),
    purchasesChecked: purchases.length,
    customersChecked: customers.checked,
    stripeChecked: deps.stripe !== null,
    stripeCustomersSkipped,
    violations: await withoutPurchasesChangedSince(deps.sql, violations, purchases),
    reviews,
  };
}

// ── Postgres side ────────────────────────────────────────────────────────────────────────────────────

/** A finding about one purchase, its message prefixed with the purchase and its status. */
function purchaseViolation(p: PurchaseFacts, invariant: InvariantName, message: string): InvariantViolation {
  return {
    invariant,
    organizationId: p.organizationId,
    customerId: p.customerId,
    purchaseId: p.id,
    message: `${p.id} (${p.status}): ${message}`,
  };
}

function ledgerViolations(p: PurchaseFacts, deadlineMs: number): InvariantViolation[] {
  const found: InvariantViolation[] = [];
  const violation = (invariant: InvariantName, message: string) =>
    found.push(purchaseViolation(p, invariant, message));
  const net = p.grantedCredits - p.reversedCredits;
  if (p.grants > 1) violation('credits_match_charge', `${p.grants} purchase grants`);
  // Credits taken back for refunds are floor(credits × refunded / price) of a granted purchase, and the
  // ledger's reversals (net of restores, with dispute holds) say the same as the purchase's totals.
  const takenBack = p.creditsReversedByRefunds + p.disputeCreditsHeld;
  if (
    p.grants > 0 &&
    p.creditsReversedByRefunds !== Math.floor((p.credits * p.refundedAmountCents) / p.priceCents)
  ) {
    violation(
      'credits_match_charge',
      `${p.creditsReversedByRefunds} credits reversed for ${p.refundedAmountCents} of ${p.priceCents} cents refunded`,
    );
  }
  if (p.status === 'completed') {
    if (p.grantedCredits !== p.credits || p.reversedCredits !== takenBack) {
      violation(
        'credits_match_charge',
        `holds ${net} credits, bought ${p.credits} less ${takenBack} taken back for refunds and disputes`,
      );
    }
  } else if (net !== 0 || (p.status !== 'refunded' && (p.grants > 0 || p.reversedCredits !== 0))) {
    violation(
      'credits_match_charge',
      `holds ${net} credits (granted ${p.grantedCredits}) without a standing charge`,
    );
  }
  if (!isTerminalPurchaseStatus(p.status) && p.ageMs > deadlineMs) {
    violation('no_stuck_purchase', `still ${p.status} ${Math.round(p.ageMs / 60_000)} min after checkout`);
  }
  return found;
}

/** Per customer: purchase grants net of reversals against completed purchases, and the balance view. */
async function customerViolations(
  sql: Sql,
  options: InvariantOptions,
): Promise<{ violations: InvariantViolation[]; checked: number }> {
  const rows = await readCustomerTotals(sql, options);
  const found: InvariantViolation[] = [];
  for (const r of rows) {
    const where = { organizationId: r.organizationId, customerId: r.customerId, purchaseId: null };
    if (r.netPurchaseCredits !== r.completedCredits) {
      found.push({
        invariant: 'grants_match_completed',
        ...where,
        message: `${r.customerId}: purchase grants net ${r.netPurchaseCredits} ≠ completed purchases' ${r.completedCredits} credits`,
      });
    }
    const plan = r.viewPlan ?? 0;
    const purchased = r.viewPurchased ?? 0;
    const total = r.viewTotal ?? 0;
    // The purchased balance recomputed from the purchases themselves (what each holds after refunds and
    // disputes), not from the ledger sum the view is made of, plus what is tied to no purchase (usage).
    const fromPurchases = r.completedCredits + r.ledgerPurchasedOther;
    if (purchased !== fromPurchases) {
      found.push({
        invariant: 'balance_matches_ledger',
        ...where,
        message: `${r.customerId}: purchased balance ${purchased} ≠ ${r.completedCredits} held by its purchases + ${r.ledgerPurchasedOther} of usage`,
      });
    } else if (plan !== r.ledgerPlan || purchased !== r.ledgerPurchased || total !== plan + purchased) {
      found.push({
        invariant: 'balance_matches_ledger',
        ...where,
        message: `${r.customerId}: balance ${plan}+${purchased}=${total} ≠ ledger ${r.ledgerPlan}+${r.ledgerPurchased}`,
      });
    }
  }
  return { violations: found, checked: rows.length };
}

/** Drops the findings about purchases that changed while the check ran: they were caught mid-step. */
async function withoutPurchasesChangedSince(
  sql: Sql,
  violations: InvariantViolation[],
  purchases: PurchaseFacts[],
): Promise<InvariantViolation[]> {
  const ids = [...new Set(violations.flatMap((v) => (v.purchaseId ? [v.purchaseId] : [])))];
  if (ids.length === 0) return violations;
  const now = await purchasesUpdatedAt(sql, ids);
  const before = new Map(purchases.map((p) => [p.id, p.updatedAt.getTime()]));
  const changed = new Set(now.filter((p) => before.get(p.id) !== p.updatedAt.getTime()).map((p) => p.id));
  return violations.filter((v) => !v.purchaseId || !changed.has(v.purchaseId));
}

// ── Stripe side ──────────────────────────────────────────────────────────────────────────────────────

interface ChargeFacts {
  paymentIntentId: string;
  amount: number;
  currency: string;
  refundedCents: number;
}

async function stripeViolations(
  stripe: Stripe,
  sql: Sql,
  purchases: PurchaseFacts[],
  options: InvariantOptions,
): Promise<{ violations: InvariantViolation[]; reviews: InvariantReview[]; skipped: string[] }> {
  const limit = options.maxStripeObjects ?? 10_000;
  const reviews: InvariantReview[] = [];
  const skipped = new Set<string>();
  if (options.skipCustomersUnknownToStripe) {
    const customers = [
      ...new Set(purchases.flatMap((p) => (p.stripeCustomerId ? [p.stripeCustomerId] : []))),
    ];
    await eachLimited(customers, options.stripeConcurrency ?? 8, async (stripeCustomerId) => {
      if (!(await stripeKnowsCustomer(stripe, stripeCustomerId))) skipped.add(stripeCustomerId);
    });
  }
  const earliest = purchases.reduce<number | null>(
    (min, p) => (min === null || p.createdAt.getTime() < min ? p.createdAt.getTime() : min),
    null,
  );
  if (earliest === null) return { violations: [], reviews, skipped: [...skipped] };

  // Every PaymentIntent and refund of the account over the checked window, not per customer: a charge
  // on another Stripe customer, or without the purchase's metadata but named by its row, is seen too.
  const window = { gte: Math.floor((earliest - STRIPE_WINDOW_MARGIN_MS) / 1000) };
  const [intents, refunds] = await Promise.all([
    stripe.paymentIntents.list({ created: window, limit: 100 }).autoPagingToArray({ limit }),
    stripe.refunds.list({ created: window, limit: 100 }).autoPagingToArray({ limit }),
  ]);
  if (intents.length >= limit || refunds.length >= limit) {
    reviews.push({ purchaseId: '-', reason: `Stripe listing cut at ${limit} objects: the check is partial` });
  }
  const refundedByIntent = new Map<string, number>();
  for (const r of refunds) {
    const paymentIntentId = typeof r.payment_intent === 'string' ? r.payment_intent : r.payment_intent?.id;
    // A refund still pending counts as made (the product counts it so too), and is listed for review.
    if (!paymentIntentId || !['succeeded', 'pending', 'requires_action'].includes(r.status ?? '')) continue;
    refundedByIntent.set(paymentIntentId, (refundedByIntent.get(paymentIntentId) ?? 0) + r.amount);
    if (r.status !== 'succeeded') {
      const purchaseId = r.metadata?.purchase_id;
      if (purchaseId) reviews.push({ purchaseId, reason: `a refund of ${paymentIntentId} is still pending` });
    }
  }

  const inScope = new Map(purchases.map((p) => [p.id, p]));
  const byRecordedIntent = new Map(
    purchases.flatMap((p) => (p.stripePaymentIntentId ? [[p.stripePaymentIntentId, p.id] as const] : [])),
  );
  // Money taken (succeeded, or processing and about to be) per purchase; and money naming a purchase
  // that is not in scope, to be checked against the database.
  const charges = new Map<string, ChargeFacts[]>();
  const elsewhere: { purchaseId: string; organizationId: string; charge: ChargeFacts }[] = [];
  for (const pi of intents) {
    if (pi.status !== 'succeeded' && pi.status !== 'processing') continue;
    const purchaseId = pi.metadata?.purchase_id ?? byRecordedIntent.get(pi.id);
    if (!purchaseId) continue; // not a purchase's: another product on the same Stripe account
    const charge: ChargeFacts = {
      paymentIntentId: pi.id,
      amount: pi.amount,
      currency: pi.currency,
      refundedCents: refundedByIntent.get(pi.id) ?? 0,
    };
    if (inScope.has(purchaseId)) {
      charges.set(purchaseId, [...(charges.get(purchaseId) ?? []), charge]);
    } else if (pi.metadata?.organization_id && charge.refundedCents < charge.amount) {
      elsewhere.push({ purchaseId, organizationId: pi.metadata.organization_id, charge });
    }
  }
  const moneyWithoutPurchase = await chargesWithoutPurchase(sql, elsewhere, options);

  const found: InvariantViolation[] = [];
  for (const p of purchases) {
    if (p.stripeCustomerId && skipped.has(p.stripeCustomerId)) continue;
    const violation = (invariant: InvariantName, message: string) =>
      found.push(purchaseViolation(p, invariant, message));
    const succeeded = charges.get(p.id) ?? [];
    const kept = succeeded.filter((c) => c.refundedCents < c.amount);
    // A charge refunded in full is money given back; the charges that count are those still kept (and,
    // for a completed purchase, the one its row names, whose refunds are checked below).
    const counted = succeeded.filter(
      (c) =>
        c.refundedCents < c.amount ||
        (p.status === 'completed' && c.paymentIntentId === p.stripePaymentIntentId),
    );
    if (counted.length > 1) {
      violation('one_charge', `${counted.length} succeeded PaymentIntents: ${ids(counted)}`);
    }
    if (p.status === 'completed') {
      const [charge] = counted;
      if (counted.length !== 1 || !charge) {
        violation('completed_charged', `${counted.length} succeeded PaymentIntents, expected 1`);
      } else {
        if (charge.amount !== p.priceCents || charge.currency !== p.currency) {
          violation(
            'completed_charged',
            `charged ${charge.amount} ${charge.currency}, price ${p.priceCents} ${p.currency}`,
          );
        }
        if (charge.paymentIntentId !== p.stripePaymentIntentId) {
          violation(
            'completed_charged',
            `row names ${p.stripePaymentIntentId}, Stripe charged ${charge.paymentIntentId}`,
          );
        }
        // Every refund Stripe holds (pending or succeeded) is the purchase's, with its credits taken back;
        // a refund the product has not taken in would leave credits standing for money returned.
        if (charge.refundedCents >= charge.amount && p.refundedAmountCents < p.priceCents) {
          violation('completed_charged', `${charge.refundedCents} cents refunded but credits kept`);
        } else if (charge.refundedCents !== p.refundedAmountCents) {
          violation(
            'completed_charged',
            `Stripe shows ${charge.refundedCents} cents refunded, the purchase ${p.refundedAmountCents}`,
          );
        }
      }
    } else if (p.status === 'refunded') {
      if (succeeded.length === 0)
        violation('refunded_in_full', 'no succeeded PaymentIntent to have refunded');
      for (const c of kept) {
        violation(
          'refunded_in_full',
          `${c.paymentIntentId}: ${c.refundedCents} of ${c.amount} cents refunded`,
        );
      }
    } else if (UNSETTLED_TERMINAL.includes(p.status) && kept.length > 0) {
      violation('nothing_kept_unsettled', `money kept on ${ids(kept)}`);
    }
  }
  found.push(...moneyWithoutPurchase);
  return { violations: found, reviews, skipped: [...skipped] };
}

/** How far before the earliest purchase in scope Stripe is listed (the clocks of two systems). */
const STRIPE_WINDOW_MARGIN_MS = 5 * 60 * 1000;

/**
 * Money kept in Stripe for a purchase the database does not have, in an organization it has (and in
 * scope): a charge nobody can credit or explain. Charges of unknown organizations are another
 * system's; charges of purchases out of scope are checked when those are.
 */
async function chargesWithoutPurchase(
  sql: Sql,
  candidates: { purchaseId: string; organizationId: string; charge: ChargeFacts }[],
  options: InvariantOptions,
): Promise<InvariantViolation[]> {
  const scoped = candidates.filter(
    (c) => !options.organizationId || c.organizationId === options.organizationId,
  );
  if (scoped.length === 0) return [];
  const known = await knownPurchasesAndOrganizations(sql, {
    purchaseIds: scoped.map((c) => c.purchaseId),
    organizationIds: scoped.map((c) => c.organizationId),
  });
  return scoped
    .filter((c) => !known.purchaseIds.has(c.purchaseId) && known.organizationIds.has(c.organizationId))
    .map((c) => ({
      invariant: 'money_has_purchase' as const,
      organizationId: c.organizationId,
      customerId: '-',
      purchaseId: c.purchaseId,
      message: `${c.charge.paymentIntentId}: ${c.charge.amount - c.charge.refundedCents} cents kept for ${c.purchaseId}, which does not exist`,
    }));
}

async function stripeKnowsCustomer(stripe: Stripe, stripeCustomerId: string): Promise<boolean> {
  try {
    await stripe.customers.retrieve(stripeCustomerId);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'resource_missing') return false;
    throw error;
  }
}

function ids(charges: ChargeFacts[]): string {
  return charges.map((c) => c.paymentIntentId).join(', ');
}

async function eachLimited<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(runners);
}

/** How long a purchase may stay non-terminal: both waits, plus a grace for charging and crediting. */
export function purchaseDeadlineMs(config: {
  CARD_WAIT_TIMEOUT_MS: number;
  AUTHENTICATION_WAIT_TIMEOUT_MS: number;
  PURCHASE_SETTLE_GRACE_MS: number;
}): number {
  return (
    config.CARD_WAIT_TIMEOUT_MS + config.AUTHENTICATION_WAIT_TIMEOUT_MS + config.PURCHASE_SETTLE_GRACE_MS
  );
}

/** One line per violation, for logs and the command line. */
export function formatReport(report: InvariantReport): string {
  const lines = [
    `invariants: ${report.purchasesChecked} purchases, ${report.customersChecked} customers, ` +
      `Stripe ${report.stripeChecked ? 'checked' : 'skipped'}` +
      (report.stripeCustomersSkipped.length > 0
        ? ` (${report.stripeCustomersSkipped.length} customers unknown to it left out)`
        : '') +
      `: ${report.violations.length} violation(s)`,
    ...report.violations.map((v) => `  ✗ ${v.invariant}: ${v.message}`),
    ...report.reviews.map((r) => `  ? review ${r.purchaseId}: ${r.reason}`),
  ];
  return lines.join('\n');
}
