/**
 * The product's Stripe client: the official SDK, pointed at real Stripe (a real `sk_test_…` key) or at the
 * project's Stripe emulator (the placeholder key `sk_test_emulator`). `maxNetworkRetries: 0`, because
 * Temporal owns retries and every attempt must be visible in workflow history.
 *
 * Note: stripe-node still retries a POST once, with the same idempotency key, when the connection is reset
 * (ECONNRESET/EPIPE) even with `maxNetworkRetries: 0` (see stripe-node's RequestSender `_shouldRetry`). With
 * an explicit idempotency key that retry is harmless (Stripe replays), but it is invisible to Temporal.
 */
import Stripe from 'stripe';
import type { Config } from '../config';

export type StripeClientConfig = Pick<
  Config,
  'STRIPE_SECRET_KEY' | 'STRIPE_TIMEOUT_MS' | 'stripeEmulatorUrl' | 'stripeIsReal'
>;

export interface StripeAtOptions {
  apiKey?: string;
  timeoutMs?: number;
  maxNetworkRetries?: number;
}

/** A Stripe SDK instance talking to an arbitrary base URL (`http://127.0.0.1:12111`): emulator, stripe-mock. */
export function createStripeAt(baseUrl: string, options: StripeAtOptions = {}): Stripe {
  const url = new URL(baseUrl);
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  return new Stripe(options.apiKey ?? 'sk_test_emulator', {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    protocol,
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    timeout: options.timeoutMs ?? 20_000,
  });
}

/**
 * The product's client: real Stripe for a real test key, else the emulator at `stripeEmulatorUrl`.
 * `maxNetworkRetries` stays 0 for the worker; read-only tools (the invariant checker) may let the SDK
 * retry its GETs (429, 5xx, network) itself.
 */
export function createStripe(
  config: StripeClientConfig,
  { maxNetworkRetries = 0 }: { maxNetworkRetries?: number } = {},
): Stripe {
  if (config.stripeIsReal) {
    return new Stripe(config.STRIPE_SECRET_KEY, { maxNetworkRetries, timeout: config.STRIPE_TIMEOUT_MS });
  }
  return createStripeAt(config.stripeEmulatorUrl, {
    apiKey: config.STRIPE_SECRET_KEY,
    timeoutMs: config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries,
  });
}
