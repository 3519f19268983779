import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  type PaymentMethodAdded,
  type PaymentOutcome,
  paymentMethodAddedSignal,
  paymentOutcomeSignal,
  purchaseWorkflowId,
} from '../workflows';

/**
 * What a purchase may be told from outside: a card was added (Stripe's setup_intent.succeeded, or the
 * portal after Stripe.js), or 3-D Secure ended (payment_intent.succeeded / payment_failed). Both are
 * hints: the workflow re-reads Stripe before believing them, so a duplicate or a stale one is harmless.
 */
export type PurchaseHint = { paymentMethodAdded: PaymentMethodAdded } | { paymentOutcome: PaymentOutcome };

/**
 * Signals the purchase's workflow, bounded by `deadlineMs`. `workflow_closed` when no workflow runs for
 * it (settled, or never started); any other failure (Temporal unreachable, the deadline) throws.
 */
export async function hintPurchase(
  temporal: Client,
  purchaseId: string,
  hint: PurchaseHint,
  { deadlineMs }: { deadlineMs: number },
): Promise<'signaled' | 'workflow_closed'> {
  const handle = temporal.workflow.getHandle(purchaseWorkflowId(purchaseId));
  try {
    await temporal.withDeadline(Date.now() + deadlineMs, () =>
      'paymentMethodAdded' in hint
        ? handle.signal(paymentMethodAddedSignal, hint.paymentMethodAdded)
        : handle.signal(paymentOutcomeSignal, hint.paymentOutcome),
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'workflow_closed';
    throw error;
  }
  return 'signaled';
}
