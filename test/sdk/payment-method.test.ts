import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditPacks } from '../../packages/sdk/src/index';
import type { PortalHarness } from '../checkout/harness';
import { sdkHarness } from './helpers';

/** The SDK's card-on-file calls against the real portal (docs/sdk.md): retrieve, replace, refresh. */
let h: PortalHarness;
beforeAll(async () => {
  h = await sdkHarness();
});
afterAll(() => h?.close());

describe('portal.paymentMethod', () => {
  it('retrieve, replace (test-mode confirm), refresh: the new card is on file', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: h.url, maxRetries: 0 });
    const before = await portal.paymentMethod.retrieve();
    expect(before).toEqual({
      success: true,
      data: { brand: 'visa', last4: '0341', expMonth: expect.any(Number), expYear: expect.any(Number) },
    });

    const replacement = await portal.paymentMethod.replace();
    if (!replacement.success) throw new Error(JSON.stringify(replacement));
    const setupIntentId = replacement.data.clientSecret.split('_secret_')[0]!;
    const early = await portal.paymentMethod.refresh({ setupIntentId });
    expect(early).toMatchObject({ success: false, error: { code: 'setup_intent_not_succeeded' } });

    const confirmed = await portal.testMode.setupIntents.confirm(setupIntentId, { card: '4242424242424242' });
    expect(confirmed).toMatchObject({ success: true, data: { status: 'succeeded' } });
    const refreshed = await portal.paymentMethod.refresh({ setupIntentId });
    expect(refreshed).toMatchObject({ success: true, data: { brand: 'visa', last4: '4242' } });
    expect(await portal.paymentMethod.retrieve()).toEqual(refreshed);

    const other = await h.customer();
    const theirs = CreditPacks.portal({ token: other.token, baseUrl: h.url, maxRetries: 0 });
    expect(await theirs.paymentMethod.refresh({ setupIntentId })).toMatchObject({
      success: false,
      error: { code: 'setup_intent_not_found' },
    });
  });
});
