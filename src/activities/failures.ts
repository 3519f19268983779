import { ApplicationFailure } from '@temporalio/common';

/**
 * The typed, non-retryable failures activities raise. The workflow branches on `type`; everything not
 * listed here is retried by Temporal with backoff. Kept in a module without Node imports so the
 * workflow can import the names.
 */
export const FailureType = {
  /** The card was declined (Stripe 402 card_error). Retrying with the same key would replay it. */
  CardDeclined: 'CardDeclined',
  /** An off-session charge needs 3-D Secure: the customer must come on-session. */
  AuthenticationRequired: 'AuthenticationRequired',
  /** Stripe refused the request itself (400/401/403/404, idempotency mismatch): a bug or misconfiguration. */
  PaymentRequestRejected: 'PaymentRequestRejected',
  /** The credits cannot be granted (customer deleted, purchase not found): the charge must be refunded. */
  CreditingRefused: 'CreditingRefused',
  /** The purchase row the workflow is about does not exist. */
  PurchaseNotFound: 'PurchaseNotFound',
  /**
   * Another workflow run drives this purchase, or it is no longer pending: this run must touch
   * nothing (see migration 00007_purchase_claim).
   */
  PurchaseClaimedElsewhere: 'PurchaseClaimedElsewhere',
  /** The database refused a status change (a settled purchase): retrying cannot help. */
  PurchaseTransitionRefused: 'PurchaseTransitionRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const nonRetryableFailureTypes: FailureType[] = Object.values(FailureType);

export interface CardDeclinedDetails {
  code: string;
  declineCode: string | null;
  message: string;
  paymentIntentId: string | null;
}

export interface AuthenticationRequiredDetails {
  paymentIntentId: string;
  clientSecret: string;
}

export function nonRetryable<T>(type: FailureType, message: string, details?: T): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details ? [details] : [] });
}
