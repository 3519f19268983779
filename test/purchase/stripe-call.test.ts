import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { compensating, toActivityFailure } from '../../src/activities/stripe-call';

/**
 * How a Stripe error becomes what Temporal does with it: a card error is the customer's outcome in a
 * step (typed, never retried), but inside an undo it is Stripe refusing the undo, retried like every
 * refusal there, so a compensation is never given up.
 */
const cardError = (code: string) =>
  new Stripe.errors.StripeCardError({
    type: 'card_error',
    code,
    message: `card error ${code}`,
    decline_code: 'generic_decline',
    statusCode: 402,
  } as ConstructorParameters<typeof Stripe.errors.StripeCardError>[0]);

describe('Stripe errors in activities', () => {
  it('a decline in a step is a typed, non-retryable CardDeclined', () => {
    const failure = toActivityFailure(cardError('card_declined'), 'charge');
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'CardDeclined', nonRetryable: true });
  });

  it('a card error inside a compensation is retried', () => {
    for (const code of ['card_declined', 'authentication_required', 'expired_card']) {
      const failure = toActivityFailure(cardError(code), 'refund', compensating);
      expect(failure, code).toBeInstanceOf(ApplicationFailure);
      expect((failure as ApplicationFailure).nonRetryable, code).toBe(false);
    }
  });

  it('a refused request is final in a step and retried in a compensation', () => {
    const refused = () =>
      new Stripe.errors.StripeInvalidRequestError({
        type: 'invalid_request_error',
        message: 'No such payment_intent',
        code: 'resource_missing',
        statusCode: 404,
      } as ConstructorParameters<typeof Stripe.errors.StripeInvalidRequestError>[0]);
    expect(toActivityFailure(refused(), 'charge')).toMatchObject({ nonRetryable: true });
    expect(toActivityFailure(refused(), 'refund', compensating)).toMatchObject({ nonRetryable: false });
  });
});
