/**
 * Disputes (chargebacks) as Stripe reports them: a Dispute `dp_…` on a charge, opened by the card's issuer
 * (here: the test card 4000 0000 0000 0259 `pm_card_createDispute`, or the control API), with events
 * `charge.dispute.created` and `charge.dispute.funds_withdrawn`; closed `won` (`charge.dispute.closed`,
 * `charge.dispute.funds_reinstated`) or `lost` (`charge.dispute.closed`). In test mode Stripe decides the
 * outcome from the evidence text: `winning_evidence` wins, `losing_evidence` loses (docs.stripe.com/testing#disputes).
 */
import { listSpec, matchesCreated, type RequestContext, type Route } from '../context';
import { invalidRequest, resourceMissing } from '../errors';
import { newId, nowSeconds } from '../ids';
import { mergeMetadata } from '../params';
import { type Charge, clone, type Dispute, type DisputeStatus } from '../state';

export const disputeReasons = [
  'bank_cannot_process',
  'check_returned',
  'credit_not_processed',
  'customer_initiated',
  'debit_not_authorized',
  'duplicate',
  'fraudulent',
  'general',
  'incorrect_account_details',
  'insufficient_funds',
  'product_not_received',
  'product_unacceptable',
  'subscription_canceled',
  'unrecognized',
] as const;

/** Visa's reason codes for the reasons the emulator is asked for most; others carry none. */
const visaReasonCodes: Partial<Record<(typeof disputeReasons)[number], string>> = {
  fraudulent: '10.4',
  duplicate: '12.6.1',
  product_not_received: '13.1',
  credit_not_processed: '13.7',
};

const evidenceFields = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const;

const open: DisputeStatus[] = [
  'needs_response',
  'under_review',
  'warning_needs_response',
  'warning_under_review',
];

export function getDispute(ctx: RequestContext, id: string): Dispute {
  const d = ctx.store.disputes.get(id);
  if (!d) throw resourceMissing('dispute', id);
  return d;
}

/** The issuer disputes a charge: a `needs_response` Dispute, the charge `disputed`, the funds withdrawn. */
export function openDispute(
  ctx: RequestContext,
  charge: Charge,
  opts: { reason?: (typeof disputeReasons)[number]; amount?: number } = {},
): Dispute {
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} did not succeed and cannot be disputed.`);
  }
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} is already disputed.`);
  const reason = opts.reason ?? 'fraudulent';
  const created = nowSeconds();
  const pm = ctx.store.paymentMethods.get(charge.payment_method);
  const networkReasonCode = visaReasonCodes[reason] ?? null;
  const dispute: Dispute = {
    id: newId('dp'),
    object: 'dispute',
    amount: opts.amount ?? charge.amount_captured,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: Object.fromEntries(evidenceFields.map((f) => [f, null])),
    evidence_details: {
      due_by: created + 7 * 24 * 3600,
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: networkReasonCode,
    payment_intent: charge.payment_intent,
    payment_method_details: {
      type: 'card',
      card: {
        brand: pm?.card.brand ?? 'visa',
        case_type: 'chargeback',
        network_reason_code: networkReasonCode,
      },
    },
    reason,
    status: 'needs_response',
  };
  ctx.store.disputes.set(dispute.id, dispute);
  charge.disputed = true;
  ctx.emit('charge.dispute.created', clone(dispute));
  ctx.emit('charge.dispute.funds_withdrawn', clone(dispute));
  return dispute;
}

/** The dispute ends: `won` (funds reinstated) or `lost` (the funds stay withdrawn). */
export function closeDispute(ctx: RequestContext, dispute: Dispute, outcome: 'won' | 'lost'): Dispute {
  if (!open.includes(dispute.status)) {
    throw invalidRequest(`This dispute is already closed (status ${dispute.status}).`);
  }
  const previous = { status: dispute.status };
  dispute.status = outcome;
  ctx.emit('charge.dispute.closed', clone(dispute), previous);
  if (outcome === 'won') ctx.emit('charge.dispute.funds_reinstated', clone(dispute));
  return dispute;
}

export const disputeRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/disputes/:id',
    spec: {},
    handler: (ctx) => getDispute(ctx, ctx.pathParams.id!),
  },
  {
    method: 'GET',
    pattern: '/v1/disputes',
    spec: { ...listSpec, charge: { t: 'string' }, payment_intent: { t: 'string' }, created: { t: 'range' } },
    handler(ctx) {
      const { charge, payment_intent } = ctx.params as { charge?: string; payment_intent?: string };
      const index: [string, string] | undefined = charge
        ? ['charge', charge]
        : payment_intent
          ? ['payment_intent', payment_intent]
          : undefined;
      return ctx.store.disputes.list(ctx.params, '/v1/disputes', {
        ...(index ? { index } : {}),
        where: (d) =>
          (!charge || d.charge === charge) &&
          (!payment_intent || d.payment_intent === payment_intent) &&
          matchesCreated(d.created, ctx.params.created),
      });
    },
  },
  {
    // Update: metadata, evidence, submit (default true). Test mode: evidence `uncategorized_text`
    // `winning_evidence` / `losing_evidence` submitted → `under_review`, then closed won / lost (later).
    method: 'POST',
    pattern: '/v1/disputes/:id',
    spec: {
      metadata: { t: 'metadata' },
      evidence: {
        t: 'object',
        fields: Object.fromEntries(evidenceFields.map((f) => [f, { t: 'string', emptyable: true } as const])),
      },
      submit: { t: 'bool' },
    },
    handler(ctx) {
      const dispute = getDispute(ctx, ctx.pathParams.id!);
      const p = ctx.params as {
        metadata?: unknown;
        evidence?: Record<string, string | null>;
        submit?: boolean;
      };
      if (p.evidence !== undefined || p.submit !== undefined) {
        if (!open.includes(dispute.status)) {
          throw invalidRequest(`This dispute is already closed (status ${dispute.status}).`);
        }
      }
      const previous: Record<string, unknown> = {};
      if (p.metadata !== undefined) {
        previous.metadata = { ...dispute.metadata };
        dispute.metadata = mergeMetadata(dispute.metadata, p.metadata);
      }
      if (p.evidence) {
        previous.evidence = { ...dispute.evidence };
        Object.assign(dispute.evidence, p.evidence);
        dispute.evidence_details.has_evidence = true;
      }
      if (p.submit !== false && p.evidence && dispute.status === 'needs_response') {
        previous.status = dispute.status;
        dispute.status = 'under_review';
        dispute.evidence_details.submission_count++;
        const text = dispute.evidence.uncategorized_text;
        const outcome = text === 'winning_evidence' ? 'won' : text === 'losing_evidence' ? 'lost' : null;
        if (outcome) {
          const id = dispute.id;
          ctx.defer((later) => {
            const d = later.store.disputes.get(id);
            if (d && d.status === 'under_review') closeDispute(later, d, outcome);
          });
        }
      }
      ctx.emit('charge.dispute.updated', clone(dispute), previous);
      return dispute;
    },
  },
  {
    // Closing = accepting the dispute as lost (Stripe: "dismissing the dispute, acknowledging it as lost").
    method: 'POST',
    pattern: '/v1/disputes/:id/close',
    spec: {},
    handler(ctx) {
      const dispute = getDispute(ctx, ctx.pathParams.id!);
      if (dispute.status !== 'needs_response' && dispute.status !== 'warning_needs_response') {
        throw invalidRequest(`This dispute cannot be closed because it has a status of ${dispute.status}.`);
      }
      return closeDispute(ctx, dispute, 'lost');
    },
  },
];
