import type { ConsumptionModel, PlanFacts, SubscriptionFacts, SubscriptionStatus } from '../domain/catalog';
import { checkEligibility, type EligibilityResult } from '../domain/eligibility';
import type { Sql } from './client';
import { type CreditPackRow, selectPacks, toCreditPackFacts } from './credit-packs';

/**
 * Loads the facts the eligibility rule (src/domain/eligibility.ts) decides on. Shared by the portal and
 * by the purchase workflow's eligibility activity:
 *
 *   const facts = await loadPurchaseFacts(sql, { organizationId, customerId, creditPackId });
 *   if (!facts.customer) → customer_not_found
 *   const verdict = decideEligibility(facts);
 */

export interface CustomerFacts {
  id: string;
  organizationId: string;
  email: string;
  name: string;
  stripeCustomerId: string | null;
  defaultPaymentMethodId: string | null;
}

export interface CustomerContext {
  customer: CustomerFacts | null;
  /** the live (trialing/active/past_due) subscription, else the most recent one, else null */
  subscription: SubscriptionFacts | null;
  plan: PlanFacts | null;
}

export interface PurchaseFacts extends CustomerContext {
  pack: ReturnType<typeof toCreditPackFacts> | null;
  organizationId: string;
}

interface ContextRow {
  customer_id: string;
  organization_id: string;
  email: string;
  name: string;
  stripe_customer_id: string | null;
  default_payment_method_id: string | null;
  subscription_id: string | null;
  subscription_status: SubscriptionStatus | null;
  plan_id: string | null;
  consumption_model: ConsumptionModel | null;
  is_free: boolean | null;
}

/**
 * The customer, their current subscription and its plan, in one query (scoped by organization).
 * A soft-deleted customer loads as `customer: null`.
 */
export async function loadCustomerContext(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
): Promise<CustomerContext> {
  const [row] = await sql<ContextRow[]>`
    select c.id as customer_id, c.organization_id, c.email, c.name, c.stripe_customer_id,
           c.default_payment_method_id,
           s.id as subscription_id, s.status as subscription_status,
           pl.id as plan_id, pl.consumption_model, pl.is_free
      from customers c
      left join lateral (
        select s.id, s.organization_id, s.plan_id, s.status from subscriptions s
         where s.organization_id = c.organization_id and s.customer_id = c.id
         order by (s.status in ('trialing', 'active', 'past_due')) desc, s.created_at desc, s.id desc
         limit 1
      ) s on true
      left join plans pl on pl.organization_id = s.organization_id and pl.id = s.plan_id
     where c.organization_id = ${ids.organizationId} and c.id = ${ids.customerId} and c.deleted_at is null`;
  if (!row) return { customer: null, subscription: null, plan: null };
  const customer: CustomerFacts = {
    id: row.customer_id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    stripeCustomerId: row.stripe_customer_id,
    defaultPaymentMethodId: row.default_payment_method_id,
  };
  const subscription: SubscriptionFacts | null =
    row.subscription_id && row.subscription_status && row.plan_id
      ? {
          id: row.subscription_id,
          organizationId: row.organization_id,
          customerId: row.customer_id,
          planId: row.plan_id,
          status: row.subscription_status,
        }
      : null;
  const plan: PlanFacts | null =
    row.plan_id && row.consumption_model && row.is_free !== null
      ? {
          id: row.plan_id,
          organizationId: row.organization_id,
          consumptionModel: row.consumption_model,
          isFree: row.is_free,
        }
      : null;
  return { customer, subscription, plan };
}

/** Every fact for (organization, customer, pack). A pack of another organization loads as null. */
export async function loadPurchaseFacts(
  sql: Sql,
  ids: { organizationId: string; customerId: string; creditPackId: string },
): Promise<PurchaseFacts> {
  const [context, [packRow]] = await Promise.all([
    loadCustomerContext(sql, ids),
    sql<
      CreditPackRow[]
    >`${selectPacks(sql)} where p.organization_id = ${ids.organizationId} and p.id = ${ids.creditPackId}`,
  ]);
  return {
    ...context,
    pack: packRow ? toCreditPackFacts(packRow) : null,
    organizationId: ids.organizationId,
  };
}

/** The rule applied to loaded facts (callers handle `facts.customer === null` first). */
export function decideEligibility(facts: PurchaseFacts): EligibilityResult {
  return checkEligibility({
    pack: facts.pack,
    plan: facts.plan,
    subscription: facts.subscription,
    customerOrgId: facts.organizationId,
    hasPaymentMethod: facts.customer?.defaultPaymentMethodId != null,
  });
}

/** The non-archived packs this customer can buy, in catalog order (the portal's list). */
export async function listPurchasablePacks(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
): Promise<{ context: CustomerContext; packs: CreditPackRow[] }> {
  const context = await loadCustomerContext(sql, ids);
  if (!context.customer) return { context, packs: [] };
  const rows = await sql<CreditPackRow[]>`
    ${selectPacks(sql)}
    where p.organization_id = ${ids.organizationId} and p.archived_at is null
    order by p.price_cents, p.created_at, p.id`;
  const packs = rows.filter(
    (row) =>
      checkEligibility({
        pack: toCreditPackFacts(row),
        plan: context.plan,
        subscription: context.subscription,
        customerOrgId: ids.organizationId,
      }).ok,
  );
  return { context, packs };
}
