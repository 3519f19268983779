import Stripe from 'stripe';
import { describe } from 'vitest';
import { testConfig } from '../support/config';
import { defineBehaviourSuite } from './behaviour';

/**
 * The same behaviour suite against real Stripe test mode, when STRIPE_SECRET_KEY is a real sk_test_ key.
 * Skipped otherwise: the describe title carries the reason so it shows in the report.
 */
const config = testConfig();
const reason = config.stripeIsReal
  ? 'STRIPE_SECRET_KEY is a real test-mode key'
  : 'skipped: STRIPE_SECRET_KEY is not a real sk_test_ key (the emulator placeholder is in use)';

describe.skipIf(!config.stripeIsReal)(`Stripe behaviour: real Stripe test mode (${reason})`, () => {
  const stripe = new Stripe(config.STRIPE_SECRET_KEY, { maxNetworkRetries: 0, timeout: 30_000 });
  defineBehaviourSuite(() => ({ stripe, eventsDeadlineMs: 30_000 }));
});
