import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes of a purchase, so an operator can filter purchases in the Temporal UI
 * (e.g. `CreditPackPurchaseStatus = "requires_action"`). Registered on the dev server at start by the
 * stack manager (scripts/stack/temporal.ts) from this same list, so the names cannot drift.
 */
export const OrganizationIdKey = defineSearchAttributeKey(
  'CreditPackOrganizationId',
  SearchAttributeType.KEYWORD,
);
export const CustomerIdKey = defineSearchAttributeKey('CreditPackCustomerId', SearchAttributeType.KEYWORD);
export const CreditPackIdKey = defineSearchAttributeKey('CreditPackId', SearchAttributeType.KEYWORD);
export const PurchaseStatusKey = defineSearchAttributeKey(
  'CreditPackPurchaseStatus',
  SearchAttributeType.KEYWORD,
);

/** What started the purchase: `portal`, `auto_top_up` or `admin` (find top-ups in the UI). */
export const PurchaseTriggerKey = defineSearchAttributeKey(
  'CreditPackPurchaseTrigger',
  SearchAttributeType.KEYWORD,
);
/**
 * Set on an auto top-up whose end left the customer's auto top-up paused: the reason (card_declined,
 * authentication_required, no_payment_method, pack_unavailable, not_eligible). Operators find paused
 * auto top-ups with `CreditPackAutoTopUpPaused IS NOT NULL`.
 */
export const AutoTopUpPausedKey = defineSearchAttributeKey(
  'CreditPackAutoTopUpPaused',
  SearchAttributeType.KEYWORD,
);

/**
 * A customer's auto top-up as its long-lived workflow (`auto-top-up:<organizationId>:<customerId>`,
 * src/workflows/auto-top-up) last mirrored it from Postgres: `active`, `paused` or `off`, and why it is
 * paused (any reason, monthly_limit and pauses decided at the threshold included). Operators find paused
 * auto top-ups with `CreditPackAutoTopUpState = "paused"`.
 */
export const AutoTopUpStateKey = defineSearchAttributeKey(
  'CreditPackAutoTopUpState',
  SearchAttributeType.KEYWORD,
);
export const AutoTopUpPausedReasonKey = defineSearchAttributeKey(
  'CreditPackAutoTopUpPausedReason',
  SearchAttributeType.KEYWORD,
);

export const customSearchAttributes = [
  OrganizationIdKey,
  CustomerIdKey,
  CreditPackIdKey,
  PurchaseStatusKey,
  PurchaseTriggerKey,
  AutoTopUpPausedKey,
  AutoTopUpStateKey,
  AutoTopUpPausedReasonKey,
];
