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
