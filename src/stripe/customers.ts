import type Stripe from 'stripe';

/**
 * A Stripe customer's card on file: `invoice_settings.default_payment_method` is the source of truth
 * (the product mirrors it into `customers.default_payment_method_id`). Null for a deleted customer or
 * one without a default card.
 */
export function defaultPaymentMethodOf(customer: Stripe.Customer | Stripe.DeletedCustomer): string | null {
  if (customer.deleted) return null;
  const pm = customer.invoice_settings?.default_payment_method;
  if (!pm) return null;
  return typeof pm === 'string' ? pm : pm.id;
}

/**
 * The Stripe customer the product creates for one of its customers (on the first purchase, or the first
 * card saved in the portal): one idempotency key per customer and identical parameters from every
 * caller, so a purchase and the portal creating it at once get the same Stripe customer.
 */
export function stripeCustomerCreation(input: {
  organizationId: string;
  customerId: string;
  email: string;
  name: string;
}): { params: Stripe.CustomerCreateParams; idempotencyKey: string } {
  return {
    params: {
      email: input.email,
      name: input.name,
      metadata: { customer_id: input.customerId, organization_id: input.organizationId },
    },
    idempotencyKey: `${input.customerId}:stripe-customer`,
  };
}
