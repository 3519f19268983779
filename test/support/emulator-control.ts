import type { FaultInput } from '../../tools/stripe-emulator/index';

/** The Stripe emulator's test-only control API (tools/stripe-emulator/README.md), over HTTP. */
export function emulatorControl(baseUrl: string) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${baseUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} /_emulator${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  }
  return {
    state: () => call<EmulatorState>('GET', '/state'),
    fault: (fault: FaultInput) => call<{ id: string }>('POST', '/faults', fault),
    authenticatePaymentIntent: (id: string, outcome: 'succeed' | 'fail') =>
      call('POST', `/payment_intents/${id}/authenticate`, { outcome }),
    /** The issuer starts declining this saved card's charges with `declineCode` (its funds ran out…). */
    declineCharges: (
      paymentMethodId: string,
      declineCode: 'insufficient_funds' | 'generic_decline' | 'lost_card',
    ) => call('POST', `/payment_methods/${paymentMethodId}/decline_charges`, { decline_code: declineCode }),
  };
}

export interface EmulatorPaymentIntent {
  id: string;
  status: string;
  amount: number;
  customer: string | null;
  metadata: Record<string, string>;
  _emulator: { requests: number; creates: number; confirmations: number; chargeAttempts: number };
}

export interface EmulatorState {
  paymentIntents: EmulatorPaymentIntent[];
  charges: {
    id: string;
    payment_intent: string | null;
    status: string;
    amount: number;
    amount_refunded: number;
  }[];
  refunds: { id: string; payment_intent: string | null; amount: number; status: string }[];
  setupIntents: { id: string; status: string; customer: string | null; metadata: Record<string, string> }[];
}

/** What Stripe holds for one purchase: its PaymentIntents (by metadata), their charges and refunds. */
export async function stripeRecordsOf(baseUrl: string, purchaseId: string) {
  const state = await emulatorControl(baseUrl).state();
  const paymentIntents = state.paymentIntents.filter((pi) => pi.metadata?.purchase_id === purchaseId);
  const ids = new Set(paymentIntents.map((pi) => pi.id));
  return {
    paymentIntents,
    charges: state.charges.filter((c) => c.payment_intent !== null && ids.has(c.payment_intent)),
    refunds: state.refunds.filter((r) => r.payment_intent !== null && ids.has(r.payment_intent)),
    setupIntents: state.setupIntents.filter((si) => si.metadata?.purchase_id === purchaseId),
  };
}
