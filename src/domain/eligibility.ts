import type { CreditPackFacts, PlanFacts, SubscriptionFacts } from './catalog';
import { isPackVisibleToPlan } from './catalog';
import type { ErrorCode } from './errors';

/**
 * Whether a customer may buy a credit pack (docs/domain.md#domain-rules). Pure: the caller loads the facts
 * (see src/db/eligibility-queries.ts) and this decides. Used by the portal's pack list and by the
 * purchase workflow's eligibility activity, so both always agree.
 *
 * A missing payment method does NOT make a purchase ineligible: the customer is asked to add one.
 * `needsPaymentMethod` tells the caller which path to take.
 */
export interface EligibilityInput {
  /** null when no pack with that id exists (in any organization visible to the caller) */
  pack: CreditPackFacts | null;
  /** the plan of `subscription`; null when there is no subscription */
  plan: PlanFacts | null;
  /** the customer's current subscription (the live one, else the latest); null when none */
  subscription: SubscriptionFacts | null;
  /** the organization of the customer who wants to buy */
  customerOrgId: string;
  /** whether the customer has a card on file; optional, only feeds `needsPaymentMethod` */
  hasPaymentMethod?: boolean;
}

export type EligibilityCode = Extract<
  ErrorCode,
  | 'credit_pack_not_found'
  | 'credit_pack_archived'
  | 'subscription_inactive'
  | 'plan_not_credits_based'
  | 'pack_not_visible'
  | 'subscription_past_due'
  | 'subscription_canceled'
  | 'subscription_ended'
>;

export type EligibilityResult =
  | { ok: true; needsPaymentMethod: boolean }
  | { ok: false; code: EligibilityCode; message: string };

const refuse = (code: EligibilityCode, message: string): EligibilityResult => ({ ok: false, code, message });

/**
 * The customer-level half of the rule (no pack): may this customer buy packs at all right now?
 * Same codes and order as `checkEligibility`, minus the pack checks.
 */
export function checkCustomerCanBuy(
  input: Pick<EligibilityInput, 'plan' | 'subscription' | 'customerOrgId' | 'hasPaymentMethod'>,
): EligibilityResult {
  return checkEligibility({
    ...input,
    pack: {
      id: 'cpk_any',
      organizationId: input.customerOrgId,
      name: '',
      credits: 1,
      priceCents: 1,
      currency: 'usd',
      visibility: { type: 'all_credits_plans' },
      archived: false,
    },
  });
}

export function checkEligibility(input: EligibilityInput): EligibilityResult {
  const { pack, plan, subscription, customerOrgId } = input;

  // 1. The pack exists in the customer's organization (another organization's pack does not exist
  //    for this customer) and is not archived.
  if (!pack || pack.organizationId !== customerOrgId) {
    return refuse('credit_pack_not_found', 'No such credit pack.');
  }
  if (pack.archived) {
    return refuse('credit_pack_archived', 'This credit pack is no longer sold.');
  }

  // 2. The customer has a subscription, on a credits plan.
  if (!subscription || !plan || subscription.organizationId !== customerOrgId) {
    return refuse('subscription_inactive', 'You need a subscription to buy credit packs.');
  }
  if (plan.id !== subscription.planId || plan.organizationId !== customerOrgId) {
    // Inconsistent facts from the caller: refuse rather than guess.
    return refuse('subscription_inactive', 'Your subscription plan could not be determined.');
  }
  if (plan.consumptionModel !== 'credits') {
    return refuse('plan_not_credits_based', 'Credit packs are only available on credits-based plans.');
  }

  // 3. The pack is offered to that plan.
  if (!isPackVisibleToPlan(pack, plan.id)) {
    return refuse('pack_not_visible', 'This credit pack is not available on your plan.');
  }

  // 4. The subscription is active or trialing (free plans included); past due, canceled and ended
  //    subscriptions cannot buy.
  switch (subscription.status) {
    case 'active':
    case 'trialing':
      return { ok: true, needsPaymentMethod: input.hasPaymentMethod === false };
    case 'past_due':
      return refuse(
        'subscription_past_due',
        'Your subscription is past due; settle the outstanding invoice before buying credits.',
      );
    case 'canceled':
      return refuse('subscription_canceled', 'Your subscription is canceled.');
    case 'ended':
      return refuse('subscription_ended', 'Your subscription has ended.');
    default: {
      const unreachable: never = subscription.status;
      return refuse('subscription_inactive', `Unknown subscription status ${String(unreachable)}.`);
    }
  }
}
