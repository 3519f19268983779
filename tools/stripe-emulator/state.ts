/** The emulator's in-memory account: every object in its API shape, plus per-object counters for tests. */
import type { CardBehavior } from './cards';
import { Collection } from './collection';

export type Metadata = Record<string, string>;

export interface Customer {
  id: string;
  object: 'customer';
  created: number;
  description: string | null;
  email: string | null;
  name: string | null;
  phone: string | null;
  metadata: Metadata;
  invoice_settings: {
    custom_fields: null;
    default_payment_method: string | null;
    footer: null;
    rendering_options: null;
  };
  livemode: false;
}

export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  type: 'card';
  created: number;
  customer: string | null;
  metadata: Metadata;
  livemode: false;
  allow_redisplay: 'unspecified';
  billing_details: { address: null; email: null; name: null; phone: null };
  card: {
    brand: string;
    country: 'US';
    exp_month: number;
    exp_year: number;
    fingerprint: string;
    funding: string;
    last4: string;
    checks: { address_line1_check: null; address_postal_code_check: null; cvc_check: 'pass' | null };
    networks: { available: string[]; preferred: null };
    three_d_secure_usage: { supported: true };
    wallet: null;
    display_brand: string;
    generated_from: null;
    regulated_status: 'unregulated';
  };
}

export interface LastError {
  type: 'card_error' | 'invalid_request_error';
  code: string;
  decline_code?: string;
  message: string;
  doc_url: string;
  charge?: string;
  payment_method?: PaymentMethod;
}

export type NextAction = {
  type: 'use_stripe_sdk' | 'redirect_to_url';
  use_stripe_sdk?: { type: 'three_d_secure_redirect'; stripe_js: string; source: string };
  redirect_to_url?: { url: string; return_url: string };
} | null;

export interface SetupIntent {
  id: string;
  object: 'setup_intent';
  client_secret: string;
  created: number;
  customer: string | null;
  description: string | null;
  last_setup_error: LastError | null;
  latest_attempt: string | null;
  livemode: false;
  metadata: Metadata;
  next_action: NextAction;
  payment_method: string | null;
  payment_method_types: string[];
  allowed_payment_method_types: string[] | null;
  status:
    | 'requires_payment_method'
    | 'requires_confirmation'
    | 'requires_action'
    | 'processing'
    | 'succeeded'
    | 'canceled';
  usage: 'off_session' | 'on_session';
  cancellation_reason: string | null;
}

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'succeeded'
  | 'canceled';

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: 'automatic';
  client_secret: string;
  confirmation_method: 'automatic';
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  last_payment_error: LastError | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Metadata;
  next_action: NextAction;
  payment_method: string | null;
  payment_method_types: string[];
  allowed_payment_method_types: string[] | null;
  receipt_email: string | null;
  setup_future_usage: string | null;
  statement_descriptor: string | null;
  status: PaymentIntentStatus;
}

export interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  failure_code: string | null;
  failure_message: string | null;
  livemode: false;
  metadata: Metadata;
  outcome: {
    network_status: 'approved_by_network' | 'declined_by_network';
    reason: string | null;
    risk_level: 'normal';
    seller_message: string;
    type: 'authorized' | 'issuer_declined';
  };
  paid: boolean;
  payment_intent: string;
  payment_method: string;
  refunded: boolean;
  /** true once a dispute was opened on the charge (stays true whatever the dispute's outcome) */
  disputed: boolean;
  status: 'succeeded' | 'failed';
}

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  charge: string;
  created: number;
  currency: string;
  metadata: Metadata;
  payment_intent: string;
  reason: string | null;
  status: RefundStatus;
  /** only while `pending` (API 2025-04-30): `processing` */
  pending_reason?: 'processing' | 'insufficient_funds' | 'charge_pending';
  /** only once `failed` */
  failure_reason?: string;
}

export type RefundStatus = 'pending' | 'succeeded' | 'failed' | 'canceled';

export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost';

export interface Dispute {
  id: string;
  object: 'dispute';
  amount: number;
  balance_transactions: unknown[];
  charge: string;
  created: number;
  currency: string;
  enhanced_eligibility_types: string[];
  evidence: Record<string, string | null>;
  evidence_details: { due_by: number; has_evidence: boolean; past_due: boolean; submission_count: number };
  is_charge_refundable: boolean;
  livemode: false;
  metadata: Metadata;
  network_reason_code: string | null;
  payment_intent: string | null;
  payment_method_details: {
    type: 'card';
    card: { brand: string; case_type: 'chargeback'; network_reason_code: string | null };
  };
  reason: string;
  status: DisputeStatus;
}

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** What the emulator knows about a PaymentMethod beyond its API shape. */
export interface CardInfo {
  behavior: CardBehavior;
  declineCode?: string;
  /** a test card whose charges are disputed (0259) or whose refunds end asynchronously (5126, 7726) */
  afterCharge?: 'dispute';
  refund?: 'fail' | 'pending';
  /** set when a SetupIntent with 3-D Secure completed for this PaymentMethod */
  setupAuthenticated: boolean;
}

export interface PaymentIntentStats {
  /** API requests answered with this PaymentIntent (or with an error about it), replays included */
  requests: number;
  /** create requests that were processed (not replayed) and created it: always 1 */
  creates: number;
  /** confirmations processed (create with confirm=true, confirm calls, authentication completion) */
  confirmations: number;
  /** charge attempts (charge objects, successful or failed) */
  chargeAttempts: number;
}

export interface RequestLogEntry {
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number | null;
  replayed: boolean;
  fault: string | null;
  at: number;
}

/** The store as format 1 of the state file kept it (one JSON document, rewritten whole). */
export interface StoreSnapshot {
  customers: [string, Customer][];
  paymentMethods: [string, PaymentMethod][];
  cardInfo: [string, CardInfo][];
  setupIntents: [string, SetupIntent][];
  paymentIntents: [string, PaymentIntent][];
  piStats: [string, PaymentIntentStats][];
  charges: [string, Charge][];
  refunds: [string, Refund][];
  /** absent in state files written before disputes existed */
  disputes?: [string, Dispute][];
  events: [string, StripeEvent][];
}

export class Store {
  customers = new Collection<Customer>('customers', { email: (c) => c.email });
  paymentMethods = new Collection<PaymentMethod>('paymentMethods', { customer: (pm) => pm.customer });
  cardInfo = new Collection<CardInfo>('cardInfo', {}, false);
  setupIntents = new Collection<SetupIntent>('setupIntents', { customer: (si) => si.customer });
  paymentIntents = new Collection<PaymentIntent>('paymentIntents', { customer: (pi) => pi.customer });
  piStats = new Collection<PaymentIntentStats>('piStats', {}, false);
  charges = new Collection<Charge>('charges', {
    customer: (c) => c.customer,
    payment_intent: (c) => c.payment_intent,
  });
  refunds = new Collection<Refund>('refunds', {
    payment_intent: (r) => r.payment_intent,
    charge: (r) => r.charge,
  });
  disputes = new Collection<Dispute>('disputes', {
    charge: (d) => d.charge,
    payment_intent: (d) => d.payment_intent,
  });
  events = new Collection<StripeEvent>('events', { type: (e) => e.type });
  requestLog: RequestLogEntry[] = [];
  /** test control (not saved): PaymentIntents whose next refund stays `pending` until a test settles it */
  pendNextRefund = new Set<string>();

  /** The kinds kept in the state file, in a fixed order. */
  collections(): Collection<object>[] {
    return [
      this.customers,
      this.paymentMethods,
      this.cardInfo,
      this.setupIntents,
      this.paymentIntents,
      this.piStats,
      this.charges,
      this.refunds,
      this.disputes,
      this.events,
    ] as unknown as Collection<object>[];
  }

  stats(piId: string): PaymentIntentStats {
    let s = this.piStats.get(piId);
    if (!s) {
      s = { requests: 0, creates: 0, confirmations: 0, chargeAttempts: 0 };
      this.piStats.set(piId, s);
    }
    return s;
  }

  logRequest(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    // The last 10,000 are shown (dump); trimmed a thousand at a time, not shifted on every request.
    if (this.requestLog.length > 11_000) this.requestLog.splice(0, this.requestLog.length - 10_000);
  }

  /** Restores a state file of format 1 (one JSON document; see state-file.ts) into this empty store. */
  loadSnapshot(snapshot: StoreSnapshot): void {
    const fill = <T extends object>(c: Collection<T>, entries: [string, T][] | undefined) => {
      for (const [id, value] of entries ?? []) c.set(id, value);
    };
    fill(this.customers, snapshot.customers);
    fill(this.paymentMethods, snapshot.paymentMethods);
    fill(this.cardInfo, snapshot.cardInfo);
    fill(this.setupIntents, snapshot.setupIntents);
    fill(this.paymentIntents, snapshot.paymentIntents);
    fill(this.piStats, snapshot.piStats);
    // Charges saved before disputes existed lack `disputed`.
    fill(
      this.charges,
      snapshot.charges.map(([id, c]) => [id, { ...c, disputed: c.disputed ?? false }]),
    );
    fill(this.refunds, snapshot.refunds);
    fill(this.disputes, snapshot.disputes);
    fill(this.events, snapshot.events);
  }

  dump() {
    const values = <T>(m: Map<string, T>) => [...m.values()];
    return {
      customers: values(this.customers),
      paymentMethods: values(this.paymentMethods),
      setupIntents: values(this.setupIntents),
      // peek: a dump reads, so it marks nothing for the journal
      paymentIntents: values(this.paymentIntents).map((pi) => ({
        ...pi,
        _emulator: this.piStats.peek(pi.id) ?? {
          requests: 0,
          creates: 0,
          confirmations: 0,
          chargeAttempts: 0,
        },
      })),
      charges: values(this.charges),
      refunds: values(this.refunds),
      disputes: values(this.disputes),
      events: values(this.events),
      requests: this.requestLog.slice(-10_000),
      counters: {
        customers: this.customers.size,
        paymentMethods: this.paymentMethods.size,
        setupIntents: this.setupIntents.size,
        paymentIntents: this.paymentIntents.size,
        charges: this.charges.size,
        refunds: this.refunds.size,
        disputes: this.disputes.size,
        events: this.events.size,
        requests: Math.min(this.requestLog.length, 10_000),
        replays: this.requestLog.slice(-10_000).filter((r) => r.replayed).length,
      },
    };
  }
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
