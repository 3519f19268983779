/** Purchase states (DESIGN §3). Pure; shared by the workflow, the activities and the HTTP layer. */

export const purchaseStatuses = [
  'pending',
  'awaiting_payment_method',
  'charging',
  'requires_action',
  'crediting',
  'completed',
  'ineligible',
  'expired',
  'failed',
  'refunded',
  'canceled',
] as const;
export type PurchaseStatus = (typeof purchaseStatuses)[number];

export const terminalPurchaseStatuses = [
  'completed',
  'ineligible',
  'expired',
  'failed',
  'refunded',
  'canceled',
] as const satisfies readonly PurchaseStatus[];
export type TerminalPurchaseStatus = (typeof terminalPurchaseStatuses)[number];

export function isTerminalPurchaseStatus(status: PurchaseStatus): status is TerminalPurchaseStatus {
  return (terminalPurchaseStatuses as readonly PurchaseStatus[]).includes(status);
}

export function isPurchaseStatus(value: unknown): value is PurchaseStatus {
  return typeof value === 'string' && (purchaseStatuses as readonly string[]).includes(value);
}

/**
 * The allowed moves. The database enforces the coarse part (a settled purchase stays settled, except
 * completed → refunded); this table is the precise one the workflow follows.
 */
export const purchaseTransitions: Readonly<Record<PurchaseStatus, readonly PurchaseStatus[]>> = {
  pending: ['awaiting_payment_method', 'charging', 'ineligible', 'canceled', 'failed'],
  awaiting_payment_method: ['charging', 'expired', 'canceled', 'failed'],
  charging: ['requires_action', 'crediting', 'failed', 'refunded', 'canceled'],
  requires_action: ['charging', 'crediting', 'failed', 'expired', 'refunded', 'canceled'],
  crediting: ['completed', 'refunded'],
  completed: ['refunded'],
  ineligible: [],
  expired: [],
  failed: [],
  refunded: [],
  canceled: [],
};

export function canTransition(from: PurchaseStatus, to: PurchaseStatus): boolean {
  return purchaseTransitions[from].includes(to);
}

export type NextAction = { type: 'add_payment_method' | 'authenticate'; clientSecret: string };
