import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditPacks } from '../../packages/sdk/src/index';
import type { PortalHarness } from '../checkout/harness';
import { adminClient, sdkHarness } from './helpers';

/**
 * The SDK's auto top-up calls against the real portal and worker (docs/sdk.md): a PUT below the
 * threshold starts a top-up through the route, which completes; admin and portal read the same.
 */
let h: PortalHarness;
beforeAll(async () => {
  h = await sdkHarness();
});
afterAll(() => h?.close());

describe('autoTopUp', () => {
  it('portal update below the threshold tops up over HTTP; admin reads and turns it off', async () => {
    const who = await h.customer({ card: 'pm_card_visa' }); // Pro: 1,000 plan credits
    const portal = CreditPacks.portal({ token: who.token, baseUrl: h.url, maxRetries: 0 });
    const admin = adminClient(h);
    expect(await portal.autoTopUp.retrieve()).toMatchObject({ success: true, data: { state: 'off' } });

    const settings = { enabled: true, thresholdCredits: 1200, creditPackId: h.pack.id, monthlyLimit: 10_000 };
    expect(await portal.autoTopUp.update(settings)).toEqual({
      success: true,
      data: { ...settings, quantity: 1, state: 'active', pausedReason: null },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listed = await admin.purchases.list({ customerId: who.id });
      if (!listed.success) throw new Error(JSON.stringify(listed));
      const topUp = listed.data.find((p) => p.trigger === 'auto_top_up');
      if (topUp?.status === 'completed') break;
      if (Date.now() > deadline) throw new Error(`no completed top-up: ${JSON.stringify(listed.data)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await portal.balance.retrieve()).toMatchObject({ success: true, data: { total: 1500 } });

    expect(await admin.customers.retrieveAutoTopUp(who.id)).toMatchObject({ success: true, data: settings });
    const off = await admin.customers.updateAutoTopUp(who.id, { ...settings, enabled: false });
    expect(off).toMatchObject({ success: true, data: { enabled: false, state: 'off' } });
    const refused = await admin.customers.updateAutoTopUp(who.id, {
      ...settings,
      creditPackId: 'cpk_unknown0000',
    });
    expect(refused).toMatchObject({ success: false, error: { code: 'credit_pack_not_found' } });
  });

  it('a top-up needing 3-D Secure: the customer sees it in the portal, failed authentication_required and paused', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const portal = CreditPacks.portal({ token: who.token, baseUrl: h.url, maxRetries: 0 });
    const settings = { enabled: true, thresholdCredits: 1200, creditPackId: h.pack.id, monthlyLimit: 10_000 };
    expect(await portal.autoTopUp.update(settings)).toMatchObject({
      success: true,
      data: { state: 'active' },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const state = await portal.autoTopUp.retrieve();
      if (state.success && state.data.state === 'paused') {
        expect(state.data.pausedReason).toBe('authentication_required');
        break;
      }
      if (Date.now() > deadline) throw new Error(`never paused: ${JSON.stringify(state)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const listed = await portal.purchases.list();
    if (!listed.success) throw new Error(JSON.stringify(listed));
    expect(listed.data).toEqual([
      expect.objectContaining({
        trigger: 'auto_top_up',
        status: 'failed',
        nextAction: null,
        failure: expect.objectContaining({ code: 'authentication_required' }),
      }),
    ]);
    expect(await portal.balance.retrieve()).toMatchObject({ success: true, data: { total: 1000 } });
  });
});
