import { AppError } from '../domain/errors';
import { startTopUpIfBelowThreshold, type TopUpContext } from './auto-top-up';
import type { Sql } from './client';
import { claimIdempotencyKey, type IdempotentRequest, recordIdempotentAnswer } from './idempotency';
import type { Balance } from './ledger';
import { lockCustomerCredits } from './plan-credits';
import type { PurchaseRow } from './purchases';

/**
 * Usage of a customer's credits (POST /v1/customers/{id}/usage): plan credits first, down to 0, then
 * purchased ones, one usage entry per bucket, in one transaction with the request's Idempotency-Key.
 * The customer's row is locked for the transaction, so concurrent usage of one customer is serialised
 * and never takes more than the total it saw. More than the total: 409 insufficient_credits, nothing
 * written (the key stays unused). In the same transaction, usage that leaves the total below the
 * customer's auto top-up threshold records the top-up purchase (src/db/auto-top-up.ts), returned as
 * `topUp` for the caller to start after the commit.
 */

export interface UsageRequest extends IdempotentRequest {
  customerId: string;
  credits: number;
}

/** The balance after the usage (a replay: the first call's answer, nothing used again). */
export function recordUsage(
  sql: Sql,
  request: UsageRequest,
  topUpContext: TopUpContext,
): Promise<{ statusCode: number; balance: Balance; topUp: PurchaseRow | null }> {
  return sql.begin(async (tx) => {
    const claim = await claimIdempotencyKey(tx, request);
    if (!claim.claimed) {
      return { statusCode: claim.statusCode, balance: claim.response as Balance, topUp: null };
    }

    const ids = { organizationId: request.organizationId, customerId: request.customerId };
    if (!(await lockCustomerCredits(tx, ids))) {
      throw new AppError('customer_not_found', `No customer ${request.customerId}.`);
    }
    const [sums] = await tx<{ plan: string; purchased: string }[]>`
      select coalesce(sum(credits) filter (where bucket = 'plan'), 0)::text as plan,
             coalesce(sum(credits) filter (where bucket = 'purchased'), 0)::text as purchased
        from credit_ledger
       where organization_id = ${ids.organizationId} and customer_id = ${ids.customerId}`;
    const plan = Number(sums?.plan ?? 0);
    const purchased = Number(sums?.purchased ?? 0);
    const total = plan + purchased;
    if (request.credits > total) {
      throw new AppError(
        'insufficient_credits',
        `Using ${request.credits} credits needs at least that many; the customer has ${total}.`,
      );
    }
    const fromPlan = Math.min(request.credits, Math.max(plan, 0));
    const fromPurchased = request.credits - fromPlan;
    const entries = [
      { bucket: 'plan', credits: fromPlan },
      { bucket: 'purchased', credits: fromPurchased },
    ].filter((e) => e.credits > 0);
    for (const entry of entries) {
      await tx`
        insert into credit_ledger (organization_id, customer_id, bucket, kind, credits, description)
        values (${ids.organizationId}, ${ids.customerId}, ${entry.bucket}, 'usage', ${-entry.credits},
                ${`Usage (Idempotency-Key ${request.idempotencyKey.slice(0, 200)})`})`;
    }
    const balance: Balance = {
      planCredits: plan - fromPlan,
      purchasedCredits: purchased - fromPurchased,
      total: total - request.credits,
    };
    await recordIdempotentAnswer(tx, request, 200, balance);
    const topUp = await startTopUpIfBelowThreshold(tx, ids, topUpContext);
    return { statusCode: 200, balance, topUp };
  });
}
