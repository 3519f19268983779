import type { Sql } from './client';

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
