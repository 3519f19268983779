import Stripe from 'stripe';
import { describe } from 'vitest';
import { testConfig } from '../support/config';
import { defineBehaviourSuite } from './behaviour';

/**
 * The same behaviour suite against real Stripe test mode, when STRIPE_SECRET_KEY is a real sk_test_ key.
 * Skipped otherwise. The describe title carries the reason, but vitest's default reporter does not print the
 * titles of a skipped file in a multi-file run, so the reason is also written to stderr when the file loads
 * (vitest shows console output of test files by default).
 */
const config = testConfig();
const reason = config.stripeIsReal
  ? 'STRIPE_SECRET_KEY is a real test-mode key'
  : 'skipped: STRIPE_SECRET_KEY is not a real sk_test_ key (the emulator placeholder is in use)';

if (!config.stripeIsReal) {
  console.warn(
    `Stripe behaviour suite against real Stripe test mode ${reason}; set STRIPE_SECRET_KEY=sk_test_… to run it.`,
  );
}

describe.skipIf(!config.stripeIsReal)(`Stripe behaviour: real Stripe test mode (${reason})`, () => {
  const stripe = new Stripe(config.STRIPE_SECRET_KEY, { maxNetworkRetries: 0, timeout: 30_000 });
  defineBehaviourSuite(() => ({ stripe, eventsDeadlineMs: 30_000 }));
});
