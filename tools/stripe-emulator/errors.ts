/** Stripe's error envelope (`{ error: { type, code, message, param, … } }`) and the HTTP status it goes with. */

export type StripeErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | 'authentication_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  setup_intent?: unknown;
  payment_method?: unknown;
  request_log_url?: string;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /**
     * A validation error is raised before the endpoint starts executing: Stripe saves no idempotent result
     * for it, so a retry with the same key is processed afresh.
     */
    readonly beforeExecution = false,
  ) {
    super(body.message);
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function invalidRequest(
  message: string,
  opts: { code?: string; param?: string; status?: number; beforeExecution?: boolean } = {},
): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (opts.code) {
    body.code = opts.code;
    body.doc_url = docUrl(opts.code);
  }
  if (opts.param) body.param = opts.param;
  return new StripeApiError(opts.status ?? 400, body, opts.beforeExecution ?? false);
}

export function parameterUnknown(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, {
    code: 'parameter_unknown',
    param,
    beforeExecution: true,
  });
}

export function parameterMissing(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
    beforeExecution: true,
  });
}

export function parameterInvalid(
  param: string,
  message: string,
  code = 'parameter_invalid_string',
): StripeApiError {
  return invalidRequest(message, { code, param, beforeExecution: true });
}

const resourceNames: Record<string, string> = {
  customer: 'customer',
  payment_method: 'PaymentMethod',
  setup_intent: 'setupintent',
  payment_intent: 'payment_intent',
  charge: 'charge',
  refund: 'refund',
  dispute: 'dispute',
  event: 'event',
};

export function resourceMissing(kind: keyof typeof resourceNames, id: string, param = 'id'): StripeApiError {
  return invalidRequest(`No such ${resourceNames[kind]}: '${id}'`, {
    code: 'resource_missing',
    param,
    status: 404,
  });
}

export function unexpectedState(message: string, code = 'payment_intent_unexpected_state'): StripeApiError {
  return invalidRequest(message, { code });
}

export function errorEnvelope(err: StripeApiError): { error: StripeErrorBody } {
  return { error: err.body };
}
