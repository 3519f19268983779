import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { getCustomerPaymentProfile, linkStripeCustomer, recordNewCardOnFile } from '../db/customer-cards';
import { AppError } from '../domain/errors';
import { defaultPaymentMethodOf, stripeCustomerCreation } from '../stripe/customers';
import { classifyStripeError } from '../stripe/errors';
import { notifyAutoTopUp, startTopUp, topUpContext } from './auto-top-up';
import type { PurchaseLog } from './errors';

/**
 * The customer's card on file, seen and replaced from the portal (docs/api.md, "Card on file").
 *
 * Stripe's `invoice_settings.default_payment_method` is the card every purchase charges (the purchase's
 * `ensureStripeCustomer` reads it; the product's row mirrors it). A replacement is a SetupIntent made
 * for the customer's Stripe customer and marked `metadata.purpose = card_replacement` (a purchase's own
 * add-a-card SetupIntent carries `purchase_id` instead). Whoever says it succeeded (Stripe's
 * `setup_intent.succeeded` webhook, or the portal page after Stripe.js) is only a hint: the SetupIntent
 * is re-read from Stripe, must belong to the customer's Stripe customer and have succeeded, and only the
 * newest replacement that succeeded is made the default, so a late or repeated message for an older one
 * changes nothing. A new card also resumes an auto top-up paused for `card_declined` or
 * `no_payment_method` (src/db/customer-cards.ts), once: when the card on file changes.
 */

export const CARD_REPLACEMENT_PURPOSE = 'card_replacement';

export interface CardOnFile {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** What a resumed auto top-up's purchase needs to be started (best effort; the sweep starts it otherwise). */
export interface TopUpDeps {
  temporal: Client | null;
  config: Config;
  log: PurchaseLog;
}

interface CustomerIds {
  organizationId: string;
  customerId: string;
}

/** Stripe unreachable, failing or rate limiting: 503 (retry); anything else is not ours to answer. */
function stripeTrouble(error: unknown): never {
  const kind = classifyStripeError(error)?.kind;
  if (kind === 'unavailable' || kind === 'rate_limited') {
    throw new AppError('service_unavailable', 'Stripe could not be reached; nothing was changed. Try again.');
  }
  throw error;
}

async function stripeRead<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (classifyStripeError(error)?.kind === 'not_found') return null;
    return stripeTrouble(error);
  }
}

async function profileOf(sql: Sql, ids: CustomerIds) {
  const profile = await getCustomerPaymentProfile(sql, ids);
  if (!profile) throw new AppError('unauthorized', 'Invalid or expired portal session.');
  return profile;
}

/**
 * The card a purchase would charge now: Stripe's default card of the customer's Stripe customer, else
 * a card recorded on our side only (attached by the next purchase); null when there is none, or Stripe
 * does not know it.
 */
export async function readCardOnFile(sql: Sql, stripe: Stripe, ids: CustomerIds): Promise<CardOnFile | null> {
  const profile = await profileOf(sql, ids);
  let paymentMethodId: string | null = null;
  if (profile.stripeCustomerId) {
    const stripeCustomerId = profile.stripeCustomerId;
    const customer = await stripeRead(() => stripe.customers.retrieve(stripeCustomerId));
    if (customer) paymentMethodId = defaultPaymentMethodOf(customer);
  }
  paymentMethodId ??= profile.defaultPaymentMethodId;
  if (!paymentMethodId) return null;
  const id = paymentMethodId;
  const paymentMethod = await stripeRead(() => stripe.paymentMethods.retrieve(id));
  const card = paymentMethod?.card;
  if (!card) return null;
  return { brand: card.brand, last4: card.last4, expMonth: card.exp_month, expYear: card.exp_year };
}

/**
 * A SetupIntent to save a new card for off-session charges, for the customer's Stripe customer (created
 * now, as the first purchase would, when the customer has none yet). Answers its client secret.
 */
export async function startCardReplacement(
  sql: Sql,
  stripe: Stripe,
  ids: CustomerIds,
): Promise<{ setupIntentId: string; clientSecret: string }> {
  const profile = await profileOf(sql, ids);
  try {
    let stripeCustomerId = profile.stripeCustomerId;
    if (!stripeCustomerId) {
      const creation = stripeCustomerCreation({ ...ids, email: profile.email, name: profile.name });
      const created = await stripe.customers.create(creation.params, {
        idempotencyKey: creation.idempotencyKey,
      });
      // First writer wins, as in the purchase's own creation (same key, same Stripe customer).
      stripeCustomerId = (await linkStripeCustomer(sql, ids, created.id)) ?? created.id;
    }
    const setupIntent = await stripe.setupIntents.create({
      customer: stripeCustomerId,
      usage: 'off_session',
      allowed_payment_method_types: ['card'],
      metadata: {
        purpose: CARD_REPLACEMENT_PURPOSE,
        customer_id: ids.customerId,
        organization_id: ids.organizationId,
      },
    });
    if (!setupIntent.client_secret) throw new Error(`SetupIntent ${setupIntent.id} has no client secret`);
    return { setupIntentId: setupIntent.id, clientSecret: setupIntent.client_secret };
  } catch (error) {
    return stripeTrouble(error);
  }
}

const paymentMethodIdOf = (setupIntent: Stripe.SetupIntent): string | null =>
  typeof setupIntent.payment_method === 'string'
    ? setupIntent.payment_method
    : (setupIntent.payment_method?.id ?? null);

/**
 * The card replacement `setupIntentId` as Stripe holds it, if it is one of this customer's (its
 * metadata names the customer and it was made for their Stripe customer); null otherwise.
 */
export async function findCardReplacement(
  sql: Sql,
  stripe: Stripe,
  ids: CustomerIds,
  setupIntentId: string,
): Promise<{ setupIntent: Stripe.SetupIntent; stripeCustomerId: string } | null> {
  const profile = await getCustomerPaymentProfile(sql, ids);
  if (!profile?.stripeCustomerId) return null;
  const setupIntent = await stripeRead(() => stripe.setupIntents.retrieve(setupIntentId));
  if (!setupIntent) return null;
  const metadata = setupIntent.metadata ?? {};
  const customer =
    typeof setupIntent.customer === 'string' ? setupIntent.customer : (setupIntent.customer?.id ?? null);
  if (
    metadata.purpose !== CARD_REPLACEMENT_PURPOSE ||
    metadata.customer_id !== ids.customerId ||
    metadata.organization_id !== ids.organizationId ||
    customer !== profile.stripeCustomerId
  ) {
    return null;
  }
  return { setupIntent, stripeCustomerId: profile.stripeCustomerId };
}

export type CardReplacementOutcome =
  /** its card is the customer's default now (also when it already was) */
  | 'replaced'
  /** a newer replacement of this customer succeeded: that one's card stays the default */
  | 'superseded'
  /** the SetupIntent has not succeeded (yet): nothing changed */
  | 'not_succeeded'
  /** not a card replacement of this customer (or unknown to Stripe): nothing changed */
  | 'not_found';

/**
 * Makes the card of a succeeded card replacement the customer's default, in Stripe and in our row,
 * after re-reading it from Stripe. Idempotent: the same SetupIntent again sets the same card (same
 * Stripe idempotency key and parameters), and an older one never displaces a newer one.
 */
export async function adoptCardReplacement(
  sql: Sql,
  stripe: Stripe,
  ids: CustomerIds,
  setupIntentId: string,
  topUps: TopUpDeps,
): Promise<CardReplacementOutcome> {
  const found = await findCardReplacement(sql, stripe, ids, setupIntentId);
  if (!found) return 'not_found';
  const { setupIntent, stripeCustomerId } = found;
  const paymentMethodId = paymentMethodIdOf(setupIntent);
  if (setupIntent.status !== 'succeeded' || !paymentMethodId) return 'not_succeeded';
  try {
    // Newest first: the first succeeded card replacement is the one whose card must be the default.
    const recent = await stripe.setupIntents.list({ customer: stripeCustomerId, limit: 100 });
    const newest = recent.data.find(
      (s) =>
        s.status === 'succeeded' &&
        s.metadata?.purpose === CARD_REPLACEMENT_PURPOSE &&
        paymentMethodIdOf(s) !== null,
    );
    if (newest && newest.id !== setupIntent.id) return 'superseded';
    await stripe.customers.update(
      stripeCustomerId,
      { invoice_settings: { default_payment_method: paymentMethodId } },
      { idempotencyKey: `${setupIntent.id}:default-card` },
    );
  } catch (error) {
    return stripeTrouble(error);
  }
  // Our row follows Stripe; when that is a change, an auto top-up paused for a declined or missing card
  // resumes, and tops up now if it should (a repeated message or webhook changes nothing).
  const { resumed, topUp } = await recordNewCardOnFile(sql, ids, paymentMethodId, topUpContext());
  if (resumed) {
    topUps.log.info({ ...ids, setupIntentId, topUp: topUp?.id ?? null }, 'auto top-up resumed by a new card');
    await startTopUp(topUps, topUp);
    await notifyAutoTopUp({ sql, ...topUps }, ids, 'new card on file');
  }
  return 'replaced';
}
