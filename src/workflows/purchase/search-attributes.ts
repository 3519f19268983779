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

export const customSearchAttributes = [OrganizationIdKey, CustomerIdKey, CreditPackIdKey, PurchaseStatusKey];
