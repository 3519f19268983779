/** Billing data as the rules see it. Pure types and constants; no I/O. */

export const consumptionModels = ['credits', 'usage_based', 'seats'] as const;
export type ConsumptionModel = (typeof consumptionModels)[number];

export const subscriptionStatuses = ['trialing', 'active', 'past_due', 'canceled', 'ended'] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];

/** Statuses that count as the customer's current subscription (at most one per customer, DB-enforced). */
export const liveSubscriptionStatuses = [
  'trialing',
  'active',
  'past_due',
] as const satisfies readonly SubscriptionStatus[];

export const CURRENCY = 'usd' as const;
export type Currency = typeof CURRENCY;

export type PackVisibility = { type: 'all_credits_plans' } | { type: 'plans'; planIds: string[] };

export interface PlanFacts {
  id: string;
  organizationId: string;
  consumptionModel: ConsumptionModel;
  isFree: boolean;
}

export interface SubscriptionFacts {
  id: string;
  organizationId: string;
  customerId: string;
  planId: string;
  status: SubscriptionStatus;
}

export interface CreditPackFacts {
  id: string;
  organizationId: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: Currency;
  visibility: PackVisibility;
  archived: boolean;
}

/** Is this pack offered to this plan (visibility only; the consumption model is checked separately)? */
export function isPackVisibleToPlan(pack: Pick<CreditPackFacts, 'visibility'>, planId: string): boolean {
  return pack.visibility.type === 'all_credits_plans' || pack.visibility.planIds.includes(planId);
}
