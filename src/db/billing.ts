import type { ConsumptionModel, SubscriptionStatus } from '../domain/catalog';
import { AppError } from '../domain/errors';
import type { Sql } from './client';
import { isUniqueViolation } from './errors';
import { apiKeyHint, newApiKey, newId, sha256Hex } from './ids';
import { grantPlanCreditsForPeriod, renewSubscriptionPeriod } from './plan-credits';

/**
 * Organizations, plans, customers and subscriptions: the billing data the eligibility rules read.
 * Every read and write is scoped by organization id; a row of another organization is "not found".
 */

const iso = (d: Date | string): string => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

// ---------------------------------------------------------------- organizations

export interface Organization {
  id: string;
  name: string;
  createdAt: string;
}

export async function createOrganization(
  sql: Sql,
  input: { name: string; id?: string; apiKey?: string },
): Promise<{ organization: Organization; apiKey: string }> {
  const apiKey = input.apiKey ?? newApiKey();
  const [row] = await sql<{ id: string; name: string; created_at: Date }[]>`
    insert into organizations (id, name, api_key_hash, api_key_hint)
    values (${input.id ?? newId('organization')}, ${input.name}, ${sha256Hex(apiKey)}, ${apiKeyHint(apiKey)})
    returning id, name, created_at`;
  return { organization: { id: row!.id, name: row!.name, createdAt: iso(row!.created_at) }, apiKey };
}

// ---------------------------------------------------------------- plans

export interface Plan {
  id: string;
  name: string;
  consumptionModel: ConsumptionModel;
  isFree: boolean;
  includedCredits: number;
  createdAt: string;
}

/** Every column of `plans`. */
interface PlanRow {
  id: string;
  organization_id: string;
  name: string;
  consumption_model: ConsumptionModel;
  is_free: boolean;
  included_credits: number;
  created_at: Date;
}

const toPlan = (r: PlanRow): Plan => ({
  id: r.id,
  name: r.name,
  consumptionModel: r.consumption_model,
  isFree: r.is_free,
  includedCredits: r.included_credits,
  createdAt: iso(r.created_at),
});

export async function createPlan(
  sql: Sql,
  organizationId: string,
  input: { name: string; consumptionModel: ConsumptionModel; isFree: boolean; includedCredits: number },
): Promise<Plan> {
  try {
    const [row] = await sql<PlanRow[]>`
      insert into plans (id, organization_id, name, consumption_model, is_free, included_credits)
      values (${newId('plan')}, ${organizationId}, ${input.name}, ${input.consumptionModel}, ${input.isFree},
              ${input.includedCredits})
      returning *`;
    return toPlan(row!);
  } catch (error) {
    if (isUniqueViolation(error, 'plans_org_name_key')) {
      throw new AppError('plan_name_taken', `A plan named "${input.name}" already exists.`);
    }
    throw error;
  }
}

export async function listPlans(sql: Sql, organizationId: string): Promise<Plan[]> {
  const rows = await sql<PlanRow[]>`
    select * from plans where organization_id = ${organizationId} order by created_at, id`;
  return rows.map(toPlan);
}

export async function getPlan(sql: Sql, organizationId: string, planId: string): Promise<Plan> {
  const [row] = await sql<PlanRow[]>`
    select * from plans where organization_id = ${organizationId} and id = ${planId}`;
  if (!row) throw new AppError('plan_not_found', `No plan ${planId}.`);
  return toPlan(row);
}

// ---------------------------------------------------------------- customers
// Soft-deleted customers (deleted_at, migration 00005) are "not found" everywhere on this API; their
// purchases and ledger entries stay as history.

export interface Customer {
  id: string;
  email: string;
  name: string;
  stripeCustomerId: string | null;
  defaultPaymentMethodId: string | null;
  hasPaymentMethod: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Every column of `customers`. */
interface CustomerRow {
  id: string;
  organization_id: string;
  email: string;
  name: string;
  stripe_customer_id: string | null;
  default_payment_method_id: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

const toCustomer = (r: CustomerRow): Customer => ({
  id: r.id,
  email: r.email,
  name: r.name,
  stripeCustomerId: r.stripe_customer_id,
  defaultPaymentMethodId: r.default_payment_method_id,
  hasPaymentMethod: r.default_payment_method_id !== null,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export async function createCustomer(
  sql: Sql,
  organizationId: string,
  input: {
    email: string;
    name: string;
    stripeCustomerId?: string | null;
    defaultPaymentMethodId?: string | null;
  },
): Promise<Customer> {
  try {
    const [row] = await sql<CustomerRow[]>`
      insert into customers (id, organization_id, email, name, stripe_customer_id, default_payment_method_id)
      values (${newId('customer')}, ${organizationId}, ${input.email}, ${input.name},
              ${input.stripeCustomerId ?? null}, ${input.defaultPaymentMethodId ?? null})
      returning *`;
    return toCustomer(row!);
  } catch (error) {
    if (isUniqueViolation(error, 'customers_stripe_customer_id_key')) {
      throw new AppError('stripe_customer_taken', 'That Stripe customer is already linked to a customer.');
    }
    throw error;
  }
}

export async function listCustomers(sql: Sql, organizationId: string, limit = 100): Promise<Customer[]> {
  const rows = await sql<CustomerRow[]>`
    select * from customers where organization_id = ${organizationId} and deleted_at is null
    order by created_at, id limit ${limit}`;
  return rows.map(toCustomer);
}

export async function getCustomer(sql: Sql, organizationId: string, customerId: string): Promise<Customer> {
  const [row] = await sql<CustomerRow[]>`
    select * from customers
     where organization_id = ${organizationId} and id = ${customerId} and deleted_at is null`;
  if (!row) throw new AppError('customer_not_found', `No customer ${customerId}.`);
  return toCustomer(row);
}

// ---------------------------------------------------------------- subscriptions

export interface Subscription {
  id: string;
  customerId: string;
  planId: string;
  status: SubscriptionStatus;
  createdAt: string;
  updatedAt: string;
}

/** Every column of `subscriptions`. */
interface SubscriptionRow {
  id: string;
  organization_id: string;
  customer_id: string;
  plan_id: string;
  status: SubscriptionStatus;
  current_period: number;
  created_at: Date;
  updated_at: Date;
}

const toSubscription = (r: SubscriptionRow): Subscription => ({
  id: r.id,
  customerId: r.customer_id,
  planId: r.plan_id,
  status: r.status,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

const liveConflict = () =>
  new AppError(
    'subscription_exists',
    'The customer already has a live (trialing, active or past-due) subscription; cancel or end it first.',
  );

export async function createSubscription(
  sql: Sql,
  organizationId: string,
  input: { customerId: string; planId: string; status: SubscriptionStatus },
): Promise<Subscription> {
  // Resolve both references inside the organization first, for precise 404s.
  await getCustomer(sql, organizationId, input.customerId);
  await getPlan(sql, organizationId, input.planId);
  try {
    // The subscription and its first period's plan credits (active or trialing on a credits plan) together.
    return await sql.begin(async (tx) => {
      const [row] = await tx<SubscriptionRow[]>`
        insert into subscriptions (id, organization_id, customer_id, plan_id, status)
        values (${newId('subscription')}, ${organizationId}, ${input.customerId}, ${input.planId}, ${input.status})
        returning *`;
      await grantPlanCreditsForPeriod(tx, { organizationId, subscriptionId: row!.id });
      return toSubscription(row!);
    });
  } catch (error) {
    if (isUniqueViolation(error, 'subscriptions_one_live_per_customer')) throw liveConflict();
    throw error;
  }
}

export async function listSubscriptions(
  sql: Sql,
  organizationId: string,
  filter: { customerId?: string | undefined; status?: SubscriptionStatus | undefined; limit?: number },
): Promise<Subscription[]> {
  const rows = await sql<SubscriptionRow[]>`
    select * from subscriptions
    where organization_id = ${organizationId}
      ${filter.customerId ? sql`and customer_id = ${filter.customerId}` : sql``}
      ${filter.status ? sql`and status = ${filter.status}` : sql``}
    order by created_at, id
    limit ${filter.limit ?? 100}`;
  return rows.map(toSubscription);
}

export async function getSubscription(sql: Sql, organizationId: string, id: string): Promise<Subscription> {
  const [row] = await sql<SubscriptionRow[]>`
    select * from subscriptions where organization_id = ${organizationId} and id = ${id}`;
  if (!row) throw new AppError('subscription_not_found', `No subscription ${id}.`);
  return toSubscription(row);
}

export async function updateSubscription(
  sql: Sql,
  organizationId: string,
  id: string,
  patch: { status?: SubscriptionStatus | undefined; planId?: string | undefined },
): Promise<Subscription> {
  await getSubscription(sql, organizationId, id);
  if (patch.planId !== undefined) await getPlan(sql, organizationId, patch.planId);
  try {
    return await sql.begin(async (tx) => {
      const [row] = await tx<SubscriptionRow[]>`
        update subscriptions set
          status = coalesce(${patch.status ?? null}, status),
          plan_id = coalesce(${patch.planId ?? null}, plan_id)
        where organization_id = ${organizationId} and id = ${id}
        returning *`;
      if (!row) throw new AppError('subscription_not_found', `No subscription ${id}.`);
      // Moved (or kept) active or trialing: this period's plan credits, once per period.
      if (patch.status === 'active' || patch.status === 'trialing') {
        await grantPlanCreditsForPeriod(tx, { organizationId, subscriptionId: id });
      }
      return toSubscription(row);
    });
  } catch (error) {
    if (isUniqueViolation(error, 'subscriptions_one_live_per_customer')) throw liveConflict();
    throw error;
  }
}

/**
 * Starts the subscription's next period (POST /v1/subscriptions/{id}/renew): unused plan credits
 * expire and the plan's includedCredits are granted again, in one transaction.
 */
export async function renewSubscription(sql: Sql, organizationId: string, id: string): Promise<Subscription> {
  return sql.begin(async (tx) => {
    await renewSubscriptionPeriod(tx, { organizationId, subscriptionId: id });
    const [row] = await tx<SubscriptionRow[]>`
      select * from subscriptions where organization_id = ${organizationId} and id = ${id}`;
    if (!row) throw new AppError('subscription_not_found', `No subscription ${id}.`);
    return toSubscription(row);
  });
}
