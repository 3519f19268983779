import type { EligibilityCode } from './eligibility';

/**
 * Auto top-up (docs/auto-top-up.md): when usage, a reversal or saved settings leave a customer's total
 * below their threshold, one purchase of their chosen pack starts, off-session with the card on file.
 * Pure: the states, the reasons it pauses, and the UTC month its monthly limit counts over.
 */

export const autoTopUpStates = ['active', 'paused', 'off'] as const;
export type AutoTopUpState = (typeof autoTopUpStates)[number];

export const autoTopUpPausedReasons = [
  'card_declined',
  'monthly_limit',
  'pack_unavailable',
  'not_eligible',
  'no_payment_method',
  'authentication_required',
] as const;
export type AutoTopUpPausedReason = (typeof autoTopUpPausedReasons)[number];

/** Auto top-ups in a row that end failed with a decline before it pauses (`card_declined`). */
export const DECLINES_BEFORE_PAUSE = 3;

/** The first instant of `now`'s UTC calendar month, and of the next one. */
export function utcMonth(now: Date): { start: Date; end: Date } {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

/**
 * Whether a pause still holds at `now`: every reason holds until a PUT, but `monthly_limit`, which lifts
 * by itself once the UTC month it was paused in is over.
 */
export function pauseHolds(reason: AutoTopUpPausedReason, pausedAt: Date, now: Date): boolean {
  return reason !== 'monthly_limit' || utcMonth(now).start.getTime() <= utcMonth(pausedAt).start.getTime();
}

/** Why a top-up cannot be bought: the pack (archived, gone, hidden from the plan) or the subscription. */
export function pauseReasonOfIneligibility(code: EligibilityCode): AutoTopUpPausedReason {
  return code === 'credit_pack_not_found' || code === 'credit_pack_archived' || code === 'pack_not_visible'
    ? 'pack_unavailable'
    : 'not_eligible';
}

/** The idempotency key of a customer's n-th top-up purchase (unique per customer, like a checkout's). */
export const autoTopUpIdempotencyKey = (n: number): string => `auto_top_up:${n}`;

/**
 * The id of a customer's long-lived auto top-up workflow (src/workflows/auto-top-up): one per customer,
 * its ids scoped by organization like every other workflow id derived from a business key.
 */
export const autoTopUpWorkflowId = (organizationId: string, customerId: string): string =>
  `auto-top-up:${organizationId}:${customerId}`;
