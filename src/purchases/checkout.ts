import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { getCreditPackSnapshot } from '../db/credit-packs';
import { decideEligibility, loadPurchaseFacts } from '../db/eligibility-queries';
import { newId } from '../db/ids';
import {
  findPurchaseByIdempotencyKey,
  insertPurchase,
  type PurchaseRow,
  type PurchaseTrigger,
} from '../db/purchases';
import { AppError } from '../domain/errors';
import { purchaseWorkflowId } from '../workflows';
import { type PurchaseLog, workflowServiceUnavailable } from './errors';
import { purchaseTimeouts, startPurchaseWorkflow } from './workflow-start';

/**
 * Checkout: a purchase is recorded first (the `purchases` row, keyed by the checkout's
 * Idempotency-Key), then its workflow is started under an id derived from the purchase id. A repeated
 * checkout with the same key and body finds the same row and the same workflow; with another body it
 * is refused (409 idempotency_key_reused).
 */

export interface CheckoutRequest {
  organizationId: string;
  customerId: string;
  creditPackId: string;
  quantity: number;
  idempotencyKey: string;
  /** what starts it (default: the customer portal) */
  trigger?: PurchaseTrigger;
}

/** The request's fingerprint, stored beside its idempotency key to catch a key reused for another body. */
export function checkoutRequestHash(request: Pick<CheckoutRequest, 'creditPackId' | 'quantity'>): string {
  return createHash('sha256')
    .update(JSON.stringify({ creditPackId: request.creditPackId, quantity: request.quantity }))
    .digest('hex');
}

const quantityExceedsLimit = (maxQuantity: number) =>
  new AppError('quantity_exceeds_limit', `Quantity must be a whole number from 1 to ${maxQuantity}.`);

/**
 * Records the purchase (status `pending`, the pack's credits and price snapshotted × quantity), or
 * returns the one this idempotency key already made. `created` tells which.
 *
 * `known`: the key's row as the caller just read it (null: none), so it is not read twice; left out,
 * it is read here. A null that went stale (a concurrent checkout with the same key recorded its row
 * meanwhile) answers the same: the insert conflicts on the key and the row that won is answered (or
 * refused as a reused key), and a refusal before the insert (the bound, the pack) reads the key once
 * more first, so a known key is still judged on its key alone.
 */
export async function createPurchase(
  sql: Sql,
  request: CheckoutRequest,
  { maxQuantity, known }: { maxQuantity: number; known?: PurchaseRow | null },
): Promise<{ purchase: PurchaseRow; created: boolean }> {
  const requestHash = checkoutRequestHash(request);
  const reuse = (row: PurchaseRow) => {
    if (row.request_hash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different purchase request.',
      );
    }
    return { purchase: row, created: false };
  };

  // A known key is judged on its key first: the same body answers the purchase it made (even if the
  // limit has changed since), another body is refused as a reused key. Only a new row needs the bound.
  const existing = known === undefined ? await findPurchaseByIdempotencyKey(sql, request) : known;
  if (existing) return reuse(existing);
  // Only on a refusal: the caller's "no row" may be stale by now.
  const refuse = async (error: AppError) => {
    const raced = known === null ? await findPurchaseByIdempotencyKey(sql, request) : null;
    if (raced) return reuse(raced);
    throw error;
  };
  if (!Number.isInteger(request.quantity) || request.quantity < 1 || request.quantity > maxQuantity) {
    return refuse(quantityExceedsLimit(maxQuantity));
  }

  const pack = await getCreditPackSnapshot(sql, {
    organizationId: request.organizationId,
    creditPackId: request.creditPackId,
  });
  if (!pack) return refuse(new AppError('credit_pack_not_found', `No credit pack ${request.creditPackId}.`));

  const purchaseId = newId('purchase');
  const inserted = await insertPurchase(sql, {
    id: purchaseId,
    organizationId: request.organizationId,
    customerId: request.customerId,
    creditPackId: request.creditPackId,
    quantity: request.quantity,
    unitCredits: pack.credits,
    unitPriceCents: pack.priceCents,
    packName: pack.name,
    idempotencyKey: request.idempotencyKey,
    requestHash,
    workflowId: purchaseWorkflowId(purchaseId),
    trigger: request.trigger ?? 'portal',
  });
  if (inserted) return { purchase: inserted, created: true };
  const winner = await findPurchaseByIdempotencyKey(sql, request);
  if (!winner) throw new Error('purchase insert conflicted but no row holds the idempotency key');
  return reuse(winner);
}

/**
 * Checkout in one call: record the purchase (or find it by its key) and make sure its workflow runs.
 * `known`: as for createPurchase.
 */
export async function checkout(
  deps: { sql: Sql; client: Client; config: Config },
  request: CheckoutRequest,
  { known }: { known?: PurchaseRow | null } = {},
): Promise<{ purchase: PurchaseRow; created: boolean }> {
  const result = await createPurchase(deps.sql, request, {
    maxQuantity: deps.config.MAX_PURCHASE_QUANTITY,
    known,
  });
  // Also on a repeat: the first attempt may have recorded the row and died before starting the workflow.
  await startPurchaseWorkflow(deps.client, result.purchase, {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    timeouts: purchaseTimeouts(deps.config),
  });
  return result;
}

/**
 * The purchase this checkout recorded, if it was recorded: the row of the customer's idempotency key,
 * when it was made for this same body (another body's row is not this checkout's).
 */
async function recordedCheckout(sql: Sql, request: CheckoutRequest): Promise<PurchaseRow | null> {
  const row = await findPurchaseByIdempotencyKey(sql, request);
  return row && row.request_hash === checkoutRequestHash(request) ? row : null;
}

export type CustomerCheckoutResult =
  /** the workflow runs (or ran): the purchase is worth waiting for */
  | { workflowStarted: true; purchase: PurchaseRow; created: boolean }
  /** recorded, but its workflow could not be started now: the sweep or a retry of the key starts it */
  | { workflowStarted: false; purchase: PurchaseRow };

/**
 * The customer's checkout (POST /v1/portal/purchases). A key already used answers the purchase it made
 * (or 409 for another body), whatever the customer's eligibility is now. A new key: the quantity limit
 * and the known eligibility failures are refused before anything is recorded. Then record and start,
 * the start bounded by `startDeadlineMs`.
 *
 * A purchase recorded whose workflow cannot be started is a promise (the orphan sweep, or a retry of
 * this key, starts it), so it is answered like any pending purchase; answering an error would invite
 * a second click, a new key, a second purchase and two charges. Only a purchase not recorded at all
 * answers 503 service_unavailable.
 */
export async function checkoutForCustomer(
  deps: { sql: Sql; temporal: Client | null; config: Config },
  request: CheckoutRequest,
  { startDeadlineMs, log }: { startDeadlineMs: number; log: PurchaseLog },
): Promise<CustomerCheckoutResult> {
  const { sql, temporal, config } = deps;
  const known = await findPurchaseByIdempotencyKey(sql, request);
  if (!known) {
    if (request.quantity > config.MAX_PURCHASE_QUANTITY)
      throw quantityExceedsLimit(config.MAX_PURCHASE_QUANTITY);
    const facts = await loadPurchaseFacts(sql, request);
    if (!facts.customer) throw new AppError('unauthorized', 'Invalid or expired portal session.');
    const verdict = decideEligibility(facts);
    if (!verdict.ok) throw new AppError(verdict.code, verdict.message);
  }
  if (!temporal) throw workflowServiceUnavailable('Checkout');

  try {
    // Bounded: a workflow service that does not answer would otherwise hold the customer ~20 s
    // (the client's own retries) before the answer below, which is the same.
    const { purchase, created } = await temporal.withDeadline(Date.now() + startDeadlineMs, () =>
      // The key was read just above: createPurchase does not read it again.
      checkout({ sql, client: temporal, config }, request, { known }),
    );
    log.info(
      { purchaseId: purchase.id, created, idempotencyKey: request.idempotencyKey },
      created ? 'checkout: purchase created' : 'checkout: replayed',
    );
    return { workflowStarted: true, purchase, created };
  } catch (error) {
    if (error instanceof AppError) throw error;
    // Which step failed: the record, or the start?
    const recorded = await recordedCheckout(sql, request).catch(() => null);
    if (!recorded) {
      log.error({ err: error, idempotencyKey: request.idempotencyKey }, 'checkout failed: nothing recorded');
      throw new AppError(
        'service_unavailable',
        'The purchase could not be started right now; retry with the same Idempotency-Key (it will not be charged twice).',
      );
    }
    log.error(
      {
        err: error,
        purchaseId: recorded.id,
        status: recorded.status,
        idempotencyKey: request.idempotencyKey,
      },
      'checkout: purchase recorded but its workflow could not be started; the orphan sweep (or a retry of this key) starts it',
    );
    return { workflowStarted: false, purchase: recorded };
  }
}
