// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/portal/app';
import { ok } from '../catalog/helpers';
import { type PortalCustomer, type PortalHarness, portalHarness } from '../checkout/harness';
import { emulatorControl, stripeRecordsOf } from '../support/emulator-control';
import { launchChromium, SCREENSHOTS, UI_TIMEOUT } from './chromium';

/**
 * The portal page's real-Stripe path (Stripe.js) in headless Chromium, offline.
 *
 * A second portal server is built from the same product code with the page told "real Stripe"
 * (`stripeIsReal` and a publishable key in its config: /v1/portal/settings says testMode false, the
 * test-mode routes are not registered, the CSP admits js.stripe.com), while its Stripe client is still
 * the harness's emulator (buildApp takes the client apart from the config), so the backend never calls
 * real Stripe. The browser never reaches js.stripe.com either: `page.route` serves a fake Stripe.js that
 * defines `window.Stripe`, records what the page asks of it, and does what Stripe.js would do on Stripe's
 * side by asking this test to do it on the emulator (a PaymentMethod from card 4242 confirming the
 * SetupIntent; completing 3-D Secure). Stripe's webhooks still reach the harness's portal, which resumes
 * the purchase as in production.
 */
const PUBLISHABLE_KEY = 'pk_test_fakeStripeJsForTheBrowserTest';

/** What the fake Stripe.js records on `window.__fakeStripe`. */
interface FakeStripeCalls {
  constructed: string[];
  elements: number;
  created: string[];
  mounted: { type: string; target: string }[];
  confirmCardSetup: { clientSecret: string; withMountedCard: boolean }[];
  retrievePaymentIntent: string[];
  confirmCardPayment: { clientSecret: string; paymentMethod: string | null }[];
}

/** The fake Stripe.js served for https://js.stripe.com/v3/ (the subset of the API app.js uses). */
const FAKE_STRIPE_JS = `
(() => {
  const calls = (window.__fakeStripe = {
    constructed: [], elements: 0, created: [], mounted: [],
    confirmCardSetup: [], retrievePaymentIntent: [], confirmCardPayment: [],
  });
  const mountedElements = new Set();
  window.Stripe = function Stripe(publishableKey) {
    calls.constructed.push(publishableKey);
    return {
      elements() {
        calls.elements += 1;
        return {
          create(type) {
            calls.created.push(type);
            const element = {
              mount(target) {
                const node = typeof target === 'string' ? document.querySelector(target) : target;
                if (!node) throw new Error('fake Stripe.js: nothing to mount on at ' + String(target));
                const field = document.createElement('div');
                field.setAttribute('data-testid', 'fake-stripe-card-field');
                field.textContent = 'Card number (fake Stripe.js)';
                node.append(field);
                mountedElements.add(element);
                calls.mounted.push({ type, target: typeof target === 'string' ? target : '#' + node.id });
              },
            };
            return element;
          },
        };
      },
      async confirmCardSetup(clientSecret, data) {
        const card = data && data.payment_method && data.payment_method.card;
        calls.confirmCardSetup.push({ clientSecret, withMountedCard: Boolean(card && mountedElements.has(card)) });
        return window.__stripeSide('confirmCardSetup', clientSecret, null);
      },
      async retrievePaymentIntent(clientSecret) {
        calls.retrievePaymentIntent.push(clientSecret);
        return window.__stripeSide('retrievePaymentIntent', clientSecret, null);
      },
      async confirmCardPayment(clientSecret, data) {
        const paymentMethod = (data && data.payment_method) || null;
        calls.confirmCardPayment.push({ clientSecret, paymentMethod });
        return window.__stripeSide('confirmCardPayment', clientSecret, paymentMethod);
      },
    };
  };
})();
`;

let h: PortalHarness;
let browser: Browser;
/** The portal server whose page runs in real-Stripe mode (Stripe client: the harness's emulator). */
let realModeApp: FastifyInstance;
let realModeUrl: string;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  h = await portalHarness({ cardWaitTimeoutMs: 120_000, authenticationWaitTimeoutMs: 120_000 });
  realModeApp = await buildApp({
    config: { ...h.env.config, stripeIsReal: true },
    sql: h.env.sql,
    logger: process.env.PORTAL_TEST_LOGS === '1' ? { level: 'info' } : false,
    temporal: h.env.temporal.client,
    stripe: h.env.stripe,
    stripePublishableKey: PUBLISHABLE_KEY,
  });
  await realModeApp.listen({ host: '127.0.0.1', port: 0 });
  realModeUrl = `http://127.0.0.1:${(realModeApp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await realModeApp?.close();
  await h?.close();
});

/** What Stripe's side did for each fake Stripe.js call (asked of this test through an exposed binding). */
interface StripeSideLog {
  setupIntentsConfirmed: string[];
  paymentIntentsAuthenticated: string[];
}

const intentId = (clientSecret: string) => clientSecret.split('_secret_')[0]!;

async function openRealModePortal(who: PortalCustomer, name: string) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  page.setDefaultTimeout(UI_TIMEOUT);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  // Nothing leaves the machine: the fake Stripe.js for its URL, every other outside request refused.
  const stripeJsRequests: string[] = [];
  await page.route('https://js.stripe.com/**', (route) => {
    stripeJsRequests.push(route.request().url());
    return route.fulfill({
      status: 200,
      contentType: 'text/javascript; charset=utf-8',
      body: FAKE_STRIPE_JS,
    });
  });
  const outside: string[] = [];
  await page.route(
    (url) => url.hostname !== '127.0.0.1' && url.hostname !== 'js.stripe.com',
    (route) => {
      outside.push(route.request().url());
      return route.abort();
    },
  );

  const side: StripeSideLog = { setupIntentsConfirmed: [], paymentIntentsAuthenticated: [] };
  await page.exposeFunction(
    '__stripeSide',
    async (call: string, clientSecret: string, paymentMethod: string | null) => {
      const id = intentId(clientSecret);
      if (call === 'confirmCardSetup') {
        // What Stripe.js does with the card field: a PaymentMethod from the number, then confirm.
        const setupIntent = await h.confirmSetupIntentOnStripe(id, '4242424242424242');
        side.setupIntentsConfirmed.push(id);
        return { setupIntent: { id: setupIntent.id, status: setupIntent.status } };
      }
      if (call === 'retrievePaymentIntent') {
        const pi = await h.env.stripe.paymentIntents.retrieve(id);
        const pm = pi.payment_method;
        return {
          paymentIntent: {
            id: pi.id,
            status: pi.status,
            payment_method: typeof pm === 'string' ? pm : (pm?.id ?? null),
            last_payment_error: pi.last_payment_error ?? null,
          },
        };
      }
      if (call === 'confirmCardPayment') {
        // What Stripe does for confirmCardPayment after an off-session authentication_required: confirm
        // on-session with the card (3-D Secure asked), then the customer passes their bank's page.
        if (!paymentMethod) return { error: { message: 'fake Stripe.js: no card to confirm with' } };
        const confirmed = await h.env.stripe.paymentIntents.confirm(id, { payment_method: paymentMethod });
        if (confirmed.status !== 'requires_action') {
          return { error: { message: `fake Stripe.js: confirm left the payment ${confirmed.status}` } };
        }
        await emulatorControl(h.env.emulatorUrl).authenticatePaymentIntent(id, 'succeed');
        side.paymentIntentsAuthenticated.push(id);
        const pi = await h.env.stripe.paymentIntents.retrieve(id);
        return { paymentIntent: { id: pi.id, status: pi.status } };
      }
      return { error: { message: `fake Stripe.js: unexpected call ${call}` } };
    },
  );

  await page.goto(`${realModeUrl}/portal#token=${encodeURIComponent(who.token)}`);
  await page.locator('body[data-ready="true"]').waitFor();
  expect(page.url()).not.toContain('token=');
  await shot(page, `${name}-1-loaded`);
  return { page, problems, side, stripeJsRequests, outside };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

const fakeStripeCalls = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { __fakeStripe?: FakeStripeCalls }).__fakeStripe ?? null);

async function waitForPurchaseStatus(page: Page, status: string) {
  await page.locator(`#progress[data-status="${status}"]`).waitFor({ timeout: UI_TIMEOUT });
}

describe('the portal page with real Stripe (Stripe.js faked in the browser, emulator behind)', () => {
  it('the settings route tells the page real Stripe and the publishable key; test-mode routes are absent', async () => {
    const who = await h.customer({ plan: 'free' });
    const settings = await ok(realModeApp, 'GET', '/v1/portal/settings', { token: who.token });
    expect(settings).toMatchObject({ testMode: false, stripePublishableKey: PUBLISHABLE_KEY });
    const cards = await realModeApp.inject({
      method: 'GET',
      url: '/v1/portal/test-mode/cards',
      headers: { authorization: `Bearer ${who.token}` },
    });
    expect(cards.statusCode).toBe(404);
    const page = await realModeApp.inject({ method: 'GET', url: '/portal' });
    expect(page.headers['content-security-policy']).toContain("script-src 'self' https://js.stripe.com");
  });

  it('a customer without a card: Stripe.js mounts the card field and confirms the SetupIntent; the purchase completes', async () => {
    const who = await h.customer({ plan: 'free' });
    const { page, problems, side, stripeJsRequests, outside } = await openRealModePortal(
      who,
      'stripe-js-add-card',
    );
    expect(await page.getByTestId('test-mode').isVisible()).toBe(false);
    expect(await page.getByTestId('who').textContent()).toContain('no card on file');

    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'awaiting_payment_method');
    await page.getByTestId('card-step').waitFor({ state: 'visible' });
    // Stripe.js's card field, not the test-card list.
    await page.getByTestId('fake-stripe-card-field').waitFor({ state: 'visible' });
    expect(await page.getByTestId('test-cards').isVisible()).toBe(false);
    await shot(page, 'stripe-js-add-card-2-card-field');

    const purchaseId = (await page.locator('#progress').getAttribute('data-purchase-id'))!;
    const purchase = await ok(h.app, 'GET', `/v1/portal/purchases/${purchaseId}`, { token: who.token });
    expect(purchase.nextAction).toEqual({ type: 'add_payment_method', clientSecret: expect.any(String) });
    const clientSecret = purchase.nextAction.clientSecret as string;

    const mounted = await fakeStripeCalls(page);
    expect(mounted).toMatchObject({
      constructed: [PUBLISHABLE_KEY],
      elements: 1,
      created: ['card'],
      mounted: [{ type: 'card', target: '#stripe-card' }],
      confirmCardSetup: [],
    });

    await page.getByTestId('save-card').click();
    await waitForPurchaseStatus(page, 'completed');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    expect(await page.getByTestId('card-step').isVisible()).toBe(false);
    await shot(page, 'stripe-js-add-card-3-completed');

    const calls = await fakeStripeCalls(page);
    // Loaded once, constructed once with the publishable key; confirmCardSetup with the purchase's own
    // SetupIntent client secret and the mounted card element.
    expect(stripeJsRequests).toEqual(['https://js.stripe.com/v3/']);
    expect(calls?.constructed).toEqual([PUBLISHABLE_KEY]);
    expect(calls?.confirmCardSetup).toEqual([{ clientSecret, withMountedCard: true }]);
    expect(calls?.confirmCardPayment).toEqual([]);
    const records = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(records.setupIntents.map((si) => si.id)).toEqual([intentId(clientSecret)]);
    expect(side.setupIntentsConfirmed).toEqual([intentId(clientSecret)]);
    expect(records.paymentIntents.filter((pi) => pi.status === 'succeeded')).toHaveLength(1);

    // The card reached the workflow through Stripe's webhook (no test-mode route exists on this server).
    const events = await h.stripeEvents({ purchaseId });
    expect(events.filter((e) => e.type === 'setup_intent.succeeded')).toEqual([
      expect.objectContaining({ outcome: 'signaled' }),
    ]);
    const me = await ok(h.app, 'GET', '/v1/portal/me', { token: who.token });
    expect(me.hasPaymentMethod).toBe(true);
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a card that needs 3-D Secure: Stripe.js confirms the PaymentIntent with its card; the purchase completes', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const { page, problems, side, outside } = await openRealModePortal(who, 'stripe-js-3ds');
    expect(await page.getByTestId('who').textContent()).toContain('card on file');

    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'requires_action');
    await page.getByTestId('auth-real').waitFor({ state: 'visible' });
    expect(await page.locator('#test-auth').isVisible()).toBe(false);
    await shot(page, 'stripe-js-3ds-2-confirm');

    const purchaseId = (await page.locator('#progress').getAttribute('data-purchase-id'))!;
    const purchase = await ok(h.app, 'GET', `/v1/portal/purchases/${purchaseId}`, { token: who.token });
    expect(purchase.nextAction).toEqual({ type: 'authenticate', clientSecret: expect.any(String) });
    const clientSecret = purchase.nextAction.clientSecret as string;

    await page.getByTestId('auth-real').click();
    await waitForPurchaseStatus(page, 'completed');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    await shot(page, 'stripe-js-3ds-3-completed');

    const calls = await fakeStripeCalls(page);
    expect(calls?.constructed).toEqual([PUBLISHABLE_KEY]);
    expect(calls?.retrievePaymentIntent).toEqual([clientSecret]);
    expect(calls?.confirmCardPayment).toEqual([
      { clientSecret, paymentMethod: expect.stringMatching(/^pm_/) },
    ]);
    expect(calls?.confirmCardSetup).toEqual([]);
    expect(side.paymentIntentsAuthenticated).toEqual([intentId(clientSecret)]);
    const records = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(records.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('"Use another card" after a decline: Stripe.js confirms the card replacement, the page tells the portal, the purchase is made again on it', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const { page, problems, side, outside } = await openRealModePortal(who, 'stripe-js-another-card');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'failed');
    const declinedId = (await page.locator('#progress').getAttribute('data-purchase-id'))!;
    // Stripe's own webhooks held back: only the page's message can make the new card the default.
    await h.emulator('POST', '/webhooks/control', { withhold: true });
    try {
      await page.getByTestId('use-another-card').click();
      await page.getByTestId('replace-step').waitFor({ state: 'visible' });
      await page.locator('#replace-stripe-card [data-testid="fake-stripe-card-field"]').waitFor();
      expect(await page.getByTestId('replace-test-cards').isVisible()).toBe(false);
      await shot(page, 'stripe-js-another-card-2-card-field');
      await page.getByTestId('save-replacement').click();
      await page
        .locator(`#progress[data-status="completed"]:not([data-purchase-id="${declinedId}"])`)
        .waitFor();
      await page.locator('[data-testid="card-summary"][data-last4="4242"]').waitFor();
      await shot(page, 'stripe-js-another-card-3-completed');

      const calls = await fakeStripeCalls(page);
      expect(calls?.mounted).toEqual([{ type: 'card', target: '#replace-stripe-card' }]);
      expect(calls?.confirmCardSetup).toEqual([{ clientSecret: expect.any(String), withMountedCard: true }]);
      const setupIntentId = side.setupIntentsConfirmed[0]!;
      expect(side.setupIntentsConfirmed).toEqual([intentId(calls!.confirmCardSetup[0]!.clientSecret)]);
      const setupIntent = await h.env.stripe.setupIntents.retrieve(setupIntentId);
      expect(setupIntent.metadata).toMatchObject({ purpose: 'card_replacement', customer_id: who.id });
      const newId = (await page.locator('#progress').getAttribute('data-purchase-id'))!;
      const records = await stripeRecordsOf(h.env.emulatorUrl, newId);
      const charged = records.charges.filter((c) => c.status === 'succeeded');
      expect(charged).toHaveLength(1);
      const pi = await h.env.stripe.paymentIntents.retrieve(records.paymentIntents[0]!.id);
      expect(pi.payment_method).toBe(setupIntent.payment_method);
      // Stripe's webhook for it had not reached the portal: the page's message did it.
      const delivered = await h.env.sql`
        select id from stripe_events where object_id = ${setupIntentId} and type = 'setup_intent.succeeded'`;
      expect(delivered).toHaveLength(0);
    } finally {
      await h.emulator('POST', '/webhooks/release', { order: 'fifo' });
    }
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
