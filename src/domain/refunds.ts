/** Refunds (docs/api.md#contract-additions). Pure; shared by the database layer, the workflow and the API. */

/** The refund workflow's id: derived from the refund, never random (one workflow per refund). */
export const refundWorkflowId = (refundId: string) => `credit-pack-refund:${refundId}`;

export type RefundStatus = 'pending' | 'succeeded' | 'failed';

/** Stripe's refund statuses as the product counts them: canceled is failed, everything unsettled is pending. */
export function refundStatusOf(stripeStatus: string | null): RefundStatus {
  if (stripeStatus === 'succeeded') return 'succeeded';
  if (stripeStatus === 'failed' || stripeStatus === 'canceled') return 'failed';
  return 'pending';
}
