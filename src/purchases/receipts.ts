import type Stripe from 'stripe';
import type { Sql } from '../db/client';
import { getReceiptFacts, type ReceiptFacts, recordReceiptCard } from '../db/receipts';
import type { RefundStatus } from '../db/refunds';

/** A receipt as the API answers it (docs/api.md, "Receipts"). */
export interface Receipt {
  number: number;
  purchaseId: string;
  issuedAt: string;
  lines: { description: string; quantity: number; unitAmount: number; amount: number }[];
  total: number;
  currency: 'usd';
  paymentMethod: { brand: string; last4: string } | null;
  refunds: { id: string; amount: number; status: RefundStatus; createdAt: string }[];
}

export const toReceipt = (facts: ReceiptFacts): Receipt => {
  const { receipt, purchase } = facts;
  return {
    number: receipt.number,
    purchaseId: purchase.id,
    issuedAt: receipt.issued_at.toISOString(),
    lines: [
      {
        description: purchase.pack_name,
        quantity: purchase.quantity,
        unitAmount: purchase.unit_price_cents,
        amount: purchase.quantity * purchase.unit_price_cents,
      },
    ],
    total: purchase.price_cents,
    currency: purchase.currency,
    paymentMethod:
      receipt.card_brand !== null && receipt.card_last4 !== null
        ? { brand: receipt.card_brand, last4: receipt.card_last4 }
        : null,
    refunds: facts.refunds.map((r) => ({
      id: r.id,
      amount: r.amount_cents,
      status: r.status,
      createdAt: r.created_at.toISOString(),
    })),
  };
};

/** A logger with pino's (object, message) signature. */
interface WarnLog {
  warn(details: object, message: string): void;
}

/**
 * The receipt of a completed purchase, with the card it was charged to: read from Stripe (the
 * PaymentIntent's payment method) the first time and kept on the receipt. Stripe unreachable: the
 * receipt answers without the card (paymentMethod null) and the next read tries again.
 */
export async function loadReceipt(
  deps: { sql: Sql; stripe: Stripe },
  ids: { organizationId: string; customerId?: string | undefined; purchaseId: string },
  log: WarnLog,
): Promise<{ receipt: Receipt; facts: ReceiptFacts }> {
  const facts = await getReceiptFacts(deps.sql, ids);
  const paymentIntentId = facts.purchase.stripe_payment_intent_id;
  if (facts.receipt.card_brand === null && paymentIntentId) {
    try {
      const intent = await deps.stripe.paymentIntents.retrieve(paymentIntentId);
      const paymentMethodId =
        typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
      if (paymentMethodId) {
        const card = (await deps.stripe.paymentMethods.retrieve(paymentMethodId)).card;
        if (card?.brand && card.last4) {
          await recordReceiptCard(deps.sql, facts.purchase.id, { brand: card.brand, last4: card.last4 });
          facts.receipt.card_brand = card.brand;
          facts.receipt.card_last4 = card.last4;
        }
      }
    } catch (error) {
      log.warn(
        { err: error, purchaseId: facts.purchase.id },
        'receipt: the card could not be read from Stripe; answered without it',
      );
    }
  }
  return { receipt: toReceipt(facts), facts };
}
