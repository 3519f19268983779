import type { RefundStatus } from '../../domain/refunds';

export { refundWorkflowId } from '../../domain/refunds';

/** An operator's refund, started by POST /v1/purchases/{id}/refunds once the refund row is recorded. */
export interface RefundInput {
  refundId: string;
  purchaseId: string;
  /** How often a refund Stripe leaves pending is re-read (STRIPE_RECHECK_INTERVAL_MS at start). */
  recheckIntervalMs: number;
}

export interface RefundOutcome {
  refundId: string;
  status: RefundStatus;
  failureReason: string | null;
}
