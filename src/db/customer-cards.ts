import { startTopUpIfBelowThreshold, type TopUpContext } from './auto-top-up';
import type { Sql } from './client';
import { lockCustomerCredits } from './plan-credits';
import type { PurchaseRow } from './purchases';

/**
 * A customer's link to Stripe, as the purchase's payment activities keep it: the Stripe customer id
 * (created on the first purchase) and the card on file, a mirror of Stripe's
 * `invoice_settings.default_payment_method` (Stripe is the source of truth).
 */

export interface CustomerPaymentProfile {
  email: string;
  name: string;
  stripeCustomerId: string | null;
  defaultPaymentMethodId: string | null;
}

export async function getCustomerPaymentProfile(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
): Promise<CustomerPaymentProfile | null> {
  const [row] = await sql<CustomerPaymentProfile[]>`
    select email, name, stripe_customer_id as "stripeCustomerId",
           default_payment_method_id as "defaultPaymentMethodId"
      from customers where organization_id = ${ids.organizationId} and id = ${ids.customerId}`;
  return row ?? null;
}

/**
 * Links the customer's Stripe customer; the first writer wins (a concurrent first purchase got the
 * same Stripe customer from the same idempotency key). Returns the linked id, or null if no such customer.
 */
export async function linkStripeCustomer(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
  stripeCustomerId: string,
): Promise<string | null> {
  const [linked] = await sql<{ stripeCustomerId: string }[]>`
    update customers set stripe_customer_id = coalesce(stripe_customer_id, ${stripeCustomerId}), updated_at = now()
     where organization_id = ${ids.organizationId} and id = ${ids.customerId}
    returning stripe_customer_id as "stripeCustomerId"`;
  return linked?.stripeCustomerId ?? null;
}

/**
 * Records the card Stripe now holds as the customer's default (`paymentMethodId`), or forgets a
 * recorded card Stripe would not take (`null`, only while `forgetting` is still the recorded one, so a
 * card recorded meanwhile stays).
 */
export async function recordDefaultCard(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
  paymentMethodId: string | null,
  { forgetting }: { forgetting?: string } = {},
): Promise<void> {
  await sql`
    update customers set default_payment_method_id = ${paymentMethodId}, updated_at = now()
     where organization_id = ${ids.organizationId} and id = ${ids.customerId}
       ${forgetting ? sql`and default_payment_method_id = ${forgetting}` : sql``}`;
}

/**
 * Records a new card on file saved by the customer (a card replacement Stripe now holds as the default)
 * and, only when it is a change (so a repeated message or a duplicate webhook does nothing), lifts an
 * auto top-up pause that a card caused (`card_declined`, `no_payment_method`; docs/api.md "Card on
 * file"), with the decline count reset, then, as a saved PUT does, records the top-up purchase if the
 * total is below the threshold (src/db/auto-top-up.ts). One transaction under the customer's lock, like
 * every other credit move; the caller starts the top-up's workflow after the commit. Other pauses
 * (monthly limit, pack, eligibility, 3-D Secure) stay: a new card does not lift them.
 */
export async function recordNewCardOnFile(
  sql: Sql,
  ids: { organizationId: string; customerId: string },
  paymentMethodId: string,
  context: TopUpContext,
): Promise<{ changed: boolean; resumed: boolean; topUp: PurchaseRow | null }> {
  return sql.begin(async (tx) => {
    if (!(await lockCustomerCredits(tx, ids))) return { changed: false, resumed: false, topUp: null };
    const changed = await tx`
      update customers set default_payment_method_id = ${paymentMethodId}, updated_at = now()
       where organization_id = ${ids.organizationId} and id = ${ids.customerId}
         and default_payment_method_id is distinct from ${paymentMethodId}
      returning id`;
    if (changed.length === 0) return { changed: false, resumed: false, topUp: null };
    const resumed = await tx`
      update auto_top_ups set paused_reason = null, paused_at = null, consecutive_declines = 0
       where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}
         and enabled and paused_reason in ('card_declined', 'no_payment_method')
      returning customer_id`;
    if (resumed.length === 0) return { changed: true, resumed: false, topUp: null };
    return { changed: true, resumed: true, topUp: await startTopUpIfBelowThreshold(tx, ids, context) };
  });
}
