/**
 * Refunds as Stripe makes them: never beyond the captured amount, `refund.created` and `charge.refunded` at
 * creation. A refund may end later: `pending` → `succeeded` (test card 7726 `pm_card_pendingRefund`), or
 * `succeeded` → `failed` (5126 `pm_card_refundFail`), each change sending `refund.updated` and
 * `charge.refund.updated` (and `refund.failed` from API 2024-10-28); a failed refund's amount is given back
 * to the charge (`amount_refunded`). A test can also hold a PaymentIntent's next refund `pending` and settle
 * it through the control API.
 */
import { listSpec, matchesCreated, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing } from '../errors';
import { newId, nowSeconds } from '../ids';
import { mergeMetadata } from '../params';
import { type Charge, clone, type Refund } from '../state';
import { getCharge, getPaymentIntent } from './payment-intents';
import { cardInfo } from './payment-methods';

/** The API version that added the `refund.failed` event type. */
const refundFailedSince = '2024-10-28';
/** The API version that added `pending_reason` on refunds. */
const pendingReasonSince = '2025-04-30';

/**
 * A refund reaches its final status: `succeeded` (only from `pending`) or `failed` (from `pending` or
 * `succeeded`; the amount goes back to the charge's `amount_refunded`).
 */
export function settleRefund(
  ctx: RequestContext,
  refund: Refund,
  outcome: 'succeeded' | 'failed',
  failureReason = 'expired_or_canceled_card',
): Refund {
  const allowed = outcome === 'succeeded' ? ['pending'] : ['pending', 'succeeded'];
  if (!allowed.includes(refund.status)) {
    throw invalidRequest(`Refund ${refund.id} has status ${refund.status} and cannot become ${outcome}.`);
  }
  const previous: Record<string, unknown> = { status: refund.status };
  if (refund.pending_reason !== undefined) {
    previous.pending_reason = refund.pending_reason;
    delete refund.pending_reason;
  }
  refund.status = outcome;
  if (outcome === 'failed') {
    refund.failure_reason = failureReason;
    const charge = ctx.store.charges.get(refund.charge);
    if (charge) {
      charge.amount_refunded -= refund.amount;
      charge.refunded = charge.amount_refunded >= charge.amount_captured;
    }
  }
  ctx.emit('refund.updated', clone(refund), previous);
  ctx.emit('charge.refund.updated', clone(refund), previous);
  if (outcome === 'failed' && ctx.apiVersion >= refundFailedSince) ctx.emit('refund.failed', clone(refund));
  return refund;
}

const symbols: Record<string, string> = { usd: '$', eur: '€', gbp: '£', cad: '$', aud: '$' };

function money(amount: number, currency: string): string {
  const symbol = symbols[currency];
  const value = (amount / 100).toFixed(2);
  return symbol ? `${symbol}${value}` : `${value} ${currency.toUpperCase()}`;
}

export const refundRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/refunds',
    spec: {
      payment_intent: { t: 'string' },
      charge: { t: 'string' },
      amount: { t: 'int', min: 1, max: 99_999_999 },
      reason: { t: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer'] },
      metadata: { t: 'metadata' },
      refund_application_fee: { t: 'ignored' },
      reverse_transfer: { t: 'ignored' },
      instructions_email: { t: 'ignored' },
    },
    handler(ctx) {
      const p = ctx.params as {
        payment_intent?: string;
        charge?: string;
        amount?: number;
        reason?: string;
        metadata?: unknown;
      };
      let charge: Charge;
      if (p.payment_intent) {
        const pi = getPaymentIntent(ctx, p.payment_intent, 'payment_intent');
        const latest = pi.latest_charge ? ctx.store.charges.get(pi.latest_charge) : undefined;
        if (pi.status !== 'succeeded' || !latest || latest.status !== 'succeeded') {
          throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
            param: 'payment_intent',
          });
        }
        charge = latest;
        if (p.charge && p.charge !== charge.id) {
          throw invalidRequest('The charge does not belong to the PaymentIntent.', { param: 'charge' });
        }
      } else if (p.charge) {
        charge = getCharge(ctx.store, p.charge, 'charge');
        ctx.touchPaymentIntent(charge.payment_intent);
        if (charge.status !== 'succeeded') {
          throw invalidRequest(`Charge ${charge.id} has not been captured and cannot be refunded.`, {
            param: 'charge',
          });
        }
      } else {
        throw invalidRequest(
          'One of the following params should be provided for this request: payment_intent or charge.',
          {
            code: 'parameter_missing',
            beforeExecution: true,
          },
        );
      }
      if (charge.disputed) {
        const dispute = ctx.store.disputes.first('charge', charge.id);
        if (!dispute?.is_charge_refundable) {
          throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
            code: 'charge_disputed',
          });
        }
      }
      const remaining = charge.amount_captured - charge.amount_refunded;
      if (remaining <= 0) {
        throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
          code: 'charge_already_refunded',
        });
      }
      const amount = p.amount ?? remaining;
      if (amount > remaining) {
        throw invalidRequest(
          `Refund amount (${money(amount, charge.currency)}) is greater than unrefunded amount on charge (${money(remaining, charge.currency)})`,
          { code: 'amount_too_large', param: 'amount' },
        );
      }
      const refund: Refund = {
        id: newId('re'),
        object: 'refund',
        amount,
        charge: charge.id,
        created: nowSeconds(),
        currency: charge.currency,
        metadata: mergeMetadata({}, p.metadata),
        payment_intent: charge.payment_intent,
        reason: p.reason ?? null,
        status: 'succeeded',
      };
      const card = cardInfo(ctx.store, charge.payment_method);
      const held = ctx.store.pendNextRefund.delete(charge.payment_intent);
      if (held || card.refund === 'pending') {
        refund.status = 'pending';
        if (ctx.apiVersion >= pendingReasonSince) refund.pending_reason = 'processing';
      }
      ctx.store.refunds.set(refund.id, refund);
      const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
      charge.amount_refunded += amount;
      charge.refunded = charge.amount_refunded >= charge.amount_captured;
      ctx.emit('refund.created', clone(refund));
      ctx.emit('charge.refunded', clone(charge), previous);
      // A held refund waits for the control API; the test cards' refunds end on their own.
      const ending = held
        ? null
        : card.refund === 'pending'
          ? 'succeeded'
          : card.refund === 'fail'
            ? 'failed'
            : null;
      if (ending) {
        const id = refund.id;
        ctx.defer((later) => {
          const r = later.store.refunds.get(id);
          if (r && r.status !== ending && r.status !== 'failed') settleRefund(later, r, ending);
        });
      }
      return refund;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/refunds/:id',
    spec: {},
    handler(ctx) {
      const r = ctx.store.refunds.get(ctx.pathParams.id!);
      if (!r) throw resourceMissing('refund', ctx.pathParams.id!);
      return r;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/refunds',
    spec: { ...listSpec, payment_intent: { t: 'string' }, charge: { t: 'string' }, created: { t: 'range' } },
    handler(ctx) {
      const { payment_intent, charge } = ctx.params as { payment_intent?: string; charge?: string };
      const index: [string, string] | undefined = charge
        ? ['charge', charge]
        : payment_intent
          ? ['payment_intent', payment_intent]
          : undefined;
      return ctx.store.refunds.list(ctx.params, '/v1/refunds', {
        ...(index ? { index } : {}),
        where: (r) =>
          (!payment_intent || r.payment_intent === payment_intent) &&
          (!charge || r.charge === charge) &&
          matchesCreated(r.created, ctx.params.created),
      });
    },
  },
];
