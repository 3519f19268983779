/**
 * Stripe's test cards and the test PaymentMethod tokens naming them, with the behaviour Stripe documents
 * (https://docs.stripe.com/testing):
 *  - `succeed`: every setup and charge succeeds;
 *  - `decline_after_attach` (0341): attaching/setting up succeeds, every charge declines;
 *  - `decline` (0002, 9995, …): setup and charges decline with the card's decline code;
 *  - `authenticate_always` (3184): 3-D Secure on setup and on every charge, even after setup;
 *  - `authenticate_on_setup` (3155): 3-D Secure on setup; off-session charges after an authenticated setup succeed.
 * and, for cards whose charges succeed, what happens afterwards:
 *  - `afterCharge: 'dispute'` (0259): the charge is disputed as `fraudulent` (status `needs_response`);
 *  - `refund: 'fail'` (5126): a refund is `succeeded` at first, then `failed` (asynchronous failure);
 *  - `refund: 'pending'` (7726): a refund is `pending` at first, then `succeeded` (asynchronous success).
 */

export type CardBehavior =
  | 'succeed'
  | 'decline_after_attach'
  | 'decline'
  | 'authenticate_always'
  | 'authenticate_on_setup';

export interface TestCard {
  number: string;
  brand: 'visa' | 'mastercard' | 'amex';
  funding: 'credit' | 'debit';
  behavior: CardBehavior;
  declineCode?: string;
  afterCharge?: 'dispute';
  refund?: 'fail' | 'pending';
  tokens: string[];
}

export const testCards: TestCard[] = [
  {
    number: '4242424242424242',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    tokens: ['pm_card_visa', 'tok_visa'],
  },
  {
    number: '4000056655665556',
    brand: 'visa',
    funding: 'debit',
    behavior: 'succeed',
    tokens: ['pm_card_visa_debit', 'tok_visa_debit'],
  },
  {
    number: '5555555555554444',
    brand: 'mastercard',
    funding: 'credit',
    behavior: 'succeed',
    tokens: ['pm_card_mastercard', 'tok_mastercard'],
  },
  {
    number: '4000000000000341',
    brand: 'visa',
    funding: 'credit',
    behavior: 'decline_after_attach',
    declineCode: 'generic_decline',
    tokens: ['pm_card_chargeCustomerFail', 'tok_chargeCustomerFail'],
  },
  {
    number: '4000000000000002',
    brand: 'visa',
    funding: 'credit',
    behavior: 'decline',
    declineCode: 'generic_decline',
    tokens: ['pm_card_chargeDeclined', 'pm_card_visa_chargeDeclined', 'tok_chargeDeclined'],
  },
  {
    number: '4000000000009995',
    brand: 'visa',
    funding: 'credit',
    behavior: 'decline',
    declineCode: 'insufficient_funds',
    tokens: [
      'pm_card_visa_chargeDeclinedInsufficientFunds',
      'pm_card_chargeDeclinedInsufficientFunds',
      'tok_chargeDeclinedInsufficientFunds',
    ],
  },
  {
    number: '4000000000009987',
    brand: 'visa',
    funding: 'credit',
    behavior: 'decline',
    declineCode: 'lost_card',
    tokens: ['pm_card_visa_chargeDeclinedLostCard', 'pm_card_chargeDeclinedLostCard'],
  },
  {
    number: '4000002760003184',
    brand: 'visa',
    funding: 'credit',
    behavior: 'authenticate_always',
    tokens: ['pm_card_authenticationRequired', 'tok_authenticationRequired'],
  },
  {
    number: '4000002500003155',
    brand: 'visa',
    funding: 'credit',
    behavior: 'authenticate_on_setup',
    tokens: ['pm_card_authenticationRequiredOnSetup', 'tok_authenticationRequiredOnSetup'],
  },
  {
    number: '4000000000000259',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    afterCharge: 'dispute',
    tokens: ['pm_card_createDispute', 'tok_createDispute'],
  },
  {
    number: '4000000000005126',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    refund: 'fail',
    tokens: ['pm_card_refundFail', 'tok_refundFail'],
  },
  {
    number: '4000000000007726',
    brand: 'visa',
    funding: 'credit',
    behavior: 'succeed',
    refund: 'pending',
    tokens: ['pm_card_pendingRefund', 'tok_pendingRefund'],
  },
];

export function cardByToken(token: string): TestCard | undefined {
  return testCards.find((c) => c.tokens.includes(token));
}

export function cardByNumber(number: string): TestCard | undefined {
  const digits = number.replace(/[\s-]/g, '');
  return testCards.find((c) => c.number === digits);
}

export const declineMessages: Record<string, string> = {
  generic_decline: 'Your card was declined.',
  insufficient_funds: 'Your card has insufficient funds.',
  lost_card: 'Your card was declined.',
  authentication_required: 'Your card was declined. This transaction requires authentication.',
};
