import type { PurchaseStatus } from './purchase-states';

/**
 * The events the product records and delivers to an organization's webhook endpoints
 * (docs/api.md, "Events and webhook endpoints"). Pure: the database trigger of migration 00010 writes
 * them (its list of types is this one), the API filters and validates with it.
 */

/** The purchase statuses whose every transition into records an event `purchase.<status>`. */
export const purchaseEventStatuses = [
  'completed',
  'failed',
  'refunded',
  'canceled',
  'expired',
  'ineligible',
  'requires_action',
  'awaiting_payment_method',
] as const satisfies readonly PurchaseStatus[];

export const eventTypes = [
  'purchase.completed',
  'purchase.failed',
  'purchase.refunded',
  'purchase.canceled',
  'purchase.expired',
  'purchase.ineligible',
  'purchase.requires_action',
  'purchase.awaiting_payment_method',
  'purchase.partially_refunded',
  'purchase.disputed',
  'auto_top_up.paused',
] as const;
export type EventType = (typeof eventTypes)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (eventTypes as readonly string[]).includes(value);
}

/** A delivery attempt fails without a 2xx answer within this long (docs/api.md). */
export const DELIVERY_ATTEMPT_TIMEOUT_MS = 10_000;
/** Deliveries are retried this long after the first attempt, then given up. */
export const DELIVERY_RETRY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;
/** The longest wait between two attempts. */
export const DELIVERY_MAX_RETRY_INTERVAL_MS = 60 * 60 * 1000;

/** One delivery workflow per event and endpoint, named after both (a second start finds the first). */
export const eventDeliveryWorkflowId = (eventId: string, endpointId: string): string =>
  `event-delivery:${eventId}:${endpointId}`;

/** The longest endpoint URL (characters). */
export const MAX_ENDPOINT_URL_LENGTH = 2048;

/** Whether a URL's host names this machine or a private network (by its literal name or address). */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '0.0.0.0' ||
    host === '::' ||
    host === '::1'
  )
    return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host.replace(/^::ffff:/, ''));
  if (v4) {
    const a = Number(v4[1]);
    const b = Number(v4[2]);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  return /^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host);
}

/**
 * Why a webhook endpoint URL is refused, or null: it must be an absolute http(s) URL of at most 2,048
 * characters, without credentials; loopback and private addresses only in test mode.
 */
export function endpointUrlProblem(url: string, { allowPrivate }: { allowPrivate: boolean }): string | null {
  if (url.length > MAX_ENDPOINT_URL_LENGTH) return `url is longer than ${MAX_ENDPOINT_URL_LENGTH} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url must be an absolute http(s) URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return 'url must be an absolute http(s) URL';
  if (parsed.username !== '' || parsed.password !== '') return 'url must not carry credentials';
  if (!allowPrivate && isPrivateHost(parsed.hostname))
    return 'url must not point at a loopback or private address (allowed in test mode only)';
  return null;
}
