/** Purchase states (docs/domain.md). Pure; shared by the workflow, the activities and the HTTP layer. */

/** The statuses a purchase passes through while it runs, in the order of the happy path. */
export const inFlightPurchaseStatuses = [
  'pending',
  'awaiting_payment_method',
  'charging',
  'requires_action',
  'crediting',
] as const;

/** The statuses a purchase ends in: it never leaves them (but completed → refunded). */
export const terminalPurchaseStatuses = [
  'completed',
  'ineligible',
  'expired',
  'failed',
  'refunded',
  'canceled',
] as const;
export type TerminalPurchaseStatus = (typeof terminalPurchaseStatuses)[number];

export const purchaseStatuses = [...inFlightPurchaseStatuses, ...terminalPurchaseStatuses] as const;
export type PurchaseStatus = (typeof purchaseStatuses)[number];

export function isTerminalPurchaseStatus(status: PurchaseStatus): status is TerminalPurchaseStatus {
  return (terminalPurchaseStatuses as readonly PurchaseStatus[]).includes(status);
}

export function isPurchaseStatus(value: unknown): value is PurchaseStatus {
  return typeof value === 'string' && (purchaseStatuses as readonly string[]).includes(value);
}

/**
 * The allowed moves, checked on every status write (src/db/purchase-status.ts): a move outside this
 * table fails loudly instead of being recorded. The database also enforces the coarse part itself
 * (a settled purchase stays settled, except completed → refunded).
 */
export const purchaseTransitions: Readonly<Record<PurchaseStatus, readonly PurchaseStatus[]>> = {
  pending: ['awaiting_payment_method', 'charging', 'ineligible', 'canceled', 'failed'],
  awaiting_payment_method: ['charging', 'expired', 'canceled', 'failed'],
  charging: ['requires_action', 'crediting', 'failed', 'refunded', 'canceled'],
  requires_action: ['charging', 'crediting', 'failed', 'expired', 'refunded', 'canceled'],
  // failed: a step failed for good while crediting and the refund found no charge standing
  crediting: ['completed', 'refunded', 'failed'],
  completed: ['refunded'],
  ineligible: [],
  expired: [],
  failed: [],
  // a refund Stripe reported succeeded that fails afterwards gives the credits back (src/db/refunds.ts)
  refunded: ['completed'],
  canceled: [],
};

export function canTransition(from: PurchaseStatus, to: PurchaseStatus): boolean {
  return purchaseTransitions[from].includes(to);
}

/** The statuses a purchase may be in for a write of `to` to be recorded: its sources, and `to` itself (a retried write). */
export function statusesAllowedBefore(to: PurchaseStatus): PurchaseStatus[] {
  return purchaseStatuses.filter((from) => from === to || canTransition(from, to));
}

/** A status change the transition table forbids. */
export class ForbiddenTransitionError extends Error {
  constructor(
    readonly purchaseId: string,
    readonly from: PurchaseStatus,
    readonly to: PurchaseStatus,
  ) {
    super(`purchase ${purchaseId} cannot move from ${from} to ${to} (not in the transition table)`);
    this.name = 'ForbiddenTransitionError';
  }
}

/** Throws ForbiddenTransitionError unless `from → to` is in the table (or a repeat of `to`). */
export function assertTransition(purchaseId: string, from: PurchaseStatus, to: PurchaseStatus): void {
  if (from !== to && !canTransition(from, to)) throw new ForbiddenTransitionError(purchaseId, from, to);
}

export type NextAction = { type: 'add_payment_method' | 'authenticate'; clientSecret: string };

/** The workflow id of a purchase: derived from the business key, never random. */
export const purchaseWorkflowId = (purchaseId: string) => `credit-pack-purchase:${purchaseId}`;
