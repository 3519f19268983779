import type postgres from 'postgres';
import type { SubscriptionStatus } from '../domain/catalog';
import { AppError } from '../domain/errors';

/**
 * Plan credits per subscription period (migration 00013). A subscription on a credits plan that is
 * active or trialing holds one plan_grant of the plan's includedCredits for its current period; a
 * renewal expires what is left of the plan bucket (never below zero) and starts the next period, with
 * its grant. Unique indexes on (subscription, period) make each grant and each expiry at most once,
 * so asking twice (activating twice, a retried request) grants once. Purchased credits never expire.
 *
 * Lock order, as everywhere a customer's credits move: the subscription, then the customer.
 */

const GRANTING: readonly SubscriptionStatus[] = ['active', 'trialing'];

interface SubscriptionPlan {
  id: string;
  organizationId: string;
  customerId: string;
  status: SubscriptionStatus;
  currentPeriod: number;
  consumptionModel: string;
  includedCredits: number;
}

async function readSubscriptionPlan(
  tx: postgres.TransactionSql,
  organizationId: string,
  subscriptionId: string,
  lock: boolean,
): Promise<SubscriptionPlan | null> {
  const [row] = await tx<SubscriptionPlan[]>`
    select s.id, s.organization_id as "organizationId", s.customer_id as "customerId", s.status,
           s.current_period as "currentPeriod", p.consumption_model as "consumptionModel",
           p.included_credits as "includedCredits"
      from subscriptions s
      join plans p on p.organization_id = s.organization_id and p.id = s.plan_id
     where s.organization_id = ${organizationId} and s.id = ${subscriptionId}
     ${lock ? tx`for update of s` : tx``}`;
  return row ?? null;
}

/** Locks the customer's row: every movement of a customer's credits that must see its balance takes it. */
export async function lockCustomerCredits(
  tx: postgres.TransactionSql,
  ids: { organizationId: string; customerId: string },
): Promise<boolean> {
  const [row] = await tx`
    select id from customers
     where organization_id = ${ids.organizationId} and id = ${ids.customerId} and deleted_at is null
       for update`;
  return row !== undefined;
}

/**
 * Grants the plan's includedCredits for the subscription's current period, if it is active or
 * trialing on a credits plan and not granted yet for this period, in the caller's transaction.
 * Returns the credits granted (0: nothing to grant, or granted before).
 */
export async function grantPlanCreditsForPeriod(
  tx: postgres.TransactionSql,
  ids: { organizationId: string; subscriptionId: string },
): Promise<number> {
  const sub = await readSubscriptionPlan(tx, ids.organizationId, ids.subscriptionId, true);
  if (!sub) return 0;
  if (!GRANTING.includes(sub.status) || sub.consumptionModel !== 'credits' || sub.includedCredits <= 0) {
    return 0;
  }
  await lockCustomerCredits(tx, sub);
  const inserted = await tx`
    insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, subscription_id,
                               subscription_period, description)
    values (${sub.organizationId}, ${sub.customerId}, 'plan', 'plan_grant', ${sub.includedCredits}, ${sub.id},
            ${sub.currentPeriod}, ${`Plan credits of subscription ${sub.id}, period ${sub.currentPeriod}`})
    on conflict (subscription_id, subscription_period)
       where kind = 'plan_grant' and subscription_id is not null do nothing
    returning id`;
  return inserted.length > 0 ? sub.includedCredits : 0;
}

/**
 * Starts the subscription's next period (POST /v1/subscriptions/{id}/renew), in the caller's
 * transaction: what is left of the customer's plan credits expires (one plan_expiry, never below
 * zero), the period number goes up by one, and the plan's includedCredits are granted for it (if the
 * subscription is active or trialing on a credits plan). A canceled or ended subscription is not
 * renewed (422 subscription_canceled / subscription_ended).
 */
export async function renewSubscriptionPeriod(
  tx: postgres.TransactionSql,
  ids: { organizationId: string; subscriptionId: string },
): Promise<{ expired: number; granted: number; period: number }> {
  const sub = await readSubscriptionPlan(tx, ids.organizationId, ids.subscriptionId, true);
  if (!sub) throw new AppError('subscription_not_found', `No subscription ${ids.subscriptionId}.`);
  if (sub.status === 'canceled' || sub.status === 'ended') {
    throw new AppError(
      sub.status === 'canceled' ? 'subscription_canceled' : 'subscription_ended',
      `Subscription ${sub.id} is ${sub.status}; only a live subscription starts a new period.`,
    );
  }
  await lockCustomerCredits(tx, sub);
  const [plan] = await tx<{ credits: string }[]>`
    select coalesce(sum(credits), 0)::text as credits from credit_ledger
     where organization_id = ${sub.organizationId} and customer_id = ${sub.customerId} and bucket = 'plan'`;
  const left = Number(plan?.credits ?? 0);
  if (left > 0) {
    await tx`
      insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, subscription_id,
                                 subscription_period, description)
      values (${sub.organizationId}, ${sub.customerId}, 'plan', 'plan_expiry', ${-left}, ${sub.id},
              ${sub.currentPeriod}, ${`Unused plan credits of subscription ${sub.id}, period ${sub.currentPeriod}, expired`})`;
  }
  await tx`
    update subscriptions set current_period = current_period + 1
     where organization_id = ${sub.organizationId} and id = ${sub.id}`;
  const granted = await grantPlanCreditsForPeriod(tx, ids);
  return { expired: Math.max(left, 0), granted, period: sub.currentPeriod + 1 };
}
