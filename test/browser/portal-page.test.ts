import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, newPack, newWorld, ok, uniqueName } from '../catalog/helpers';
import { type PortalCustomer, type PortalHarness, portalHarness } from '../checkout/harness';
import { stripeRecordsOf } from '../support/emulator-control';
import { launchChromium, SCREENSHOTS, UI_TIMEOUT } from './chromium';

/**
 * The portal page in headless Chromium (Debian's /usr/bin/chromium, installed by
 * scripts/ensure-browser.sh; never a Playwright browser download), against the real portal server:
 * buildApp listening on a random port, a real worker, the Stripe emulator posting signed webhooks to it.
 */

let h: PortalHarness;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  h = await portalHarness({ cardWaitTimeoutMs: 120_000, authenticationWaitTimeoutMs: 120_000 });
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

async function openPortal(who: PortalCustomer, name: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  page.setDefaultTimeout(UI_TIMEOUT);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(who.pageUrl);
  await page.locator('body[data-ready="true"]').waitFor();
  // The token left the address bar.
  expect(page.url()).not.toContain('token=');
  await shot(page, `${name}-1-loaded`);
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

const statusOf = (page: Page) => page.getByTestId('purchase-status');
const progress = (page: Page) => page.locator('#progress');

async function waitForPurchaseStatus(page: Page, status: string) {
  await page.locator(`#progress[data-status="${status}"]`).waitFor({ timeout: UI_TIMEOUT });
}

function expectNoPageErrors(page: Page) {
  expect((page as Page & { problems?: string[] }).problems ?? []).toEqual([]);
}

describe('the portal page (headless Chromium)', () => {
  it('a customer with a card on file buys a pack, sees it complete and the balance grow', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const page = await openPortal(who, 'card-on-file');
    await expect(page.getByTestId('test-mode').isVisible()).resolves.toBe(true);
    expect(await page.getByTestId('purchased-credits').textContent()).toBe('0');
    expect(await page.getByTestId('packs').textContent()).toContain(h.pack.name);

    await page.getByTestId(`quantity-${h.pack.id}`).fill('2');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'completed');
    expect(await page.getByTestId('progress-text').textContent()).toContain('1,000 credits were added');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '1,000' }).waitFor();
    await page.locator('[data-testid="history-row"][data-status="completed"]').waitFor();
    await shot(page, 'card-on-file-2-completed');

    const balance = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    expect(balance.purchasedCredits).toBe(1000);
    const purchaseId = (await progress(page).getAttribute('data-purchase-id'))!;
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(stripe.paymentIntents.map((pi) => pi.amount)).toEqual([8000]);
    expectNoPageErrors(page);
    await page.close();
  });

  it('a free-plan customer without a card adds one (test card 4242) and the purchase completes', async () => {
    const who = await h.customer({ plan: 'free' });
    const page = await openPortal(who, 'add-card');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'awaiting_payment_method');
    await page.getByTestId('card-step').waitFor({ state: 'visible' });
    await page.getByTestId('test-card-4242').check();
    await shot(page, 'add-card-2-card-step');
    await page.getByTestId('save-card').click();
    await waitForPurchaseStatus(page, 'completed');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    expect(await page.getByTestId('card-step').isVisible()).toBe(false);
    await shot(page, 'add-card-3-completed');

    // The card reached the workflow through Stripe's webhook, not through the page.
    const purchaseId = (await progress(page).getAttribute('data-purchase-id'))!;
    const events = await h.stripeEvents({ purchaseId });
    expect(events.filter((e) => e.type === 'setup_intent.succeeded')).toEqual([
      expect.objectContaining({ outcome: 'signaled' }),
    ]);
    const me = await ok(h.app, 'GET', '/v1/portal/me', { token: who.token });
    expect(me.hasPaymentMethod).toBe(true);
    expectNoPageErrors(page);
    await page.close();
  });

  it('a declined card (0341) shows the decline in plain words, in progress and history', async () => {
    const who = await h.customer({ plan: 'free' });
    const page = await openPortal(who, 'declined');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await page.getByTestId('card-step').waitFor({ state: 'visible' });
    await page.getByTestId('test-card-0341').check();
    await page.getByTestId('save-card').click();
    await waitForPurchaseStatus(page, 'failed');
    expect(await statusOf(page).textContent()).toBe('Failed');
    expect(await page.getByTestId('progress-text').textContent()).toContain('Your card was declined.');
    const row = page.locator('[data-testid="history-row"][data-status="failed"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Your card was declined.');
    expect(await page.getByTestId('purchased-credits').textContent()).toBe('0');
    await shot(page, 'declined-2-failed');
    expectNoPageErrors(page);
    await page.close();
  });

  it('a 3-D Secure card (3184) asks to authenticate, and the purchase completes', async () => {
    const who = await h.customer({ card: 'pm_card_authenticationRequired' });
    const page = await openPortal(who, '3ds');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'requires_action');
    await page.getByTestId('auth-step').waitFor({ state: 'visible' });
    await shot(page, '3ds-2-authenticate');
    await page.getByTestId('auth-succeed').click();
    await waitForPurchaseStatus(page, 'completed');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    await shot(page, '3ds-3-completed');

    const purchaseId = (await progress(page).getAttribute('data-purchase-id'))!;
    const events = await h.stripeEvents({ purchaseId });
    expect(events.filter((e) => e.type === 'payment_intent.succeeded')).toEqual([
      expect.objectContaining({ outcome: 'signaled' }),
    ]);
    const stripe = await stripeRecordsOf(h.env.emulatorUrl, purchaseId);
    expect(stripe.charges.filter((c) => c.status === 'succeeded')).toHaveLength(1);
    expectNoPageErrors(page);
    await page.close();
  });

  it('a second portal link in the same tab (another #token=) switches to that customer without a reload; Buy buys as them', async () => {
    // Customer A (free plan, no card) is mid-purchase: the page polls it and shows the card step.
    const a = await h.customer({ plan: 'free' });
    const page = await openPortal(a, 'switch');
    let loads = 0;
    page.on('load', () => {
      loads++;
    });
    await page.evaluate(() => {
      (globalThis as unknown as { samePage?: string }).samePage = 'still here';
    });
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'awaiting_payment_method');
    await page.getByTestId('card-step').waitFor({ state: 'visible' });
    await page.getByTestId('test-card-4242').check();
    const aPurchaseId = (await progress(page).getAttribute('data-purchase-id'))!;

    // Customer B: another organization with its own pack, the Pro plan, a card on file and one
    // completed purchase already.
    const otherWorld = await newWorld(h.app);
    const otherPack = await newPack(h.app, otherWorld, {
      name: uniqueName('Other Pack'),
      credits: 300,
      price: 2500,
    });
    const b = await h.customer({ world: otherWorld, card: 'pm_card_visa' });
    const earlier = await h.checkout(b, { creditPackId: otherPack.id });
    expect(earlier.status).toBe(202);
    await h.purchaseReaches(b, earlier.body.data.id, 'completed');
    const [aMe, bMe, aBalance, bBalance] = await Promise.all([
      ok(h.app, 'GET', '/v1/portal/me', { token: a.token }),
      ok(h.app, 'GET', '/v1/portal/me', { token: b.token }),
      ok(h.app, 'GET', '/v1/portal/balance', { token: a.token }),
      ok(h.app, 'GET', '/v1/portal/balance', { token: b.token }),
    ]);
    expect(bBalance.total).not.toBe(aBalance.total);

    // B's link opened in the same tab: only the fragment changes, so the browser does not reload.
    await page.evaluate((token) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash =
        `token=${encodeURIComponent(token)}`;
    }, b.token);
    await page.getByTestId('who').filter({ hasText: bMe.customer.email }).waitFor();
    await page.locator('body[data-ready="true"]').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { samePage?: string }).samePage)).toBe(
      'still here',
    );
    expect(loads).toBe(0);
    expect(page.url()).not.toContain('token=');
    await shot(page, 'switch-2-customer-b');

    // Everything on the page is B's: who, balance, packs, history; nothing of A's purchase is left.
    const who = (await page.getByTestId('who').textContent())!;
    expect(who).not.toContain(aMe.customer.email);
    expect(who).toContain('card on file');
    expect(who).not.toContain('no card on file');
    const figure = (n: number) => n.toLocaleString('en-US');
    expect(await page.getByTestId('plan-credits').textContent()).toBe(figure(bBalance.planCredits));
    expect(await page.getByTestId('purchased-credits').textContent()).toBe(figure(bBalance.purchasedCredits));
    expect(await page.getByTestId('total-credits').textContent()).toBe(figure(bBalance.total));
    const packs = (await page.getByTestId('packs').textContent())!;
    expect(packs).toContain(otherPack.name);
    expect(packs).not.toContain(h.pack.name);
    expect(await page.getByTestId(`buy-${h.pack.id}`).count()).toBe(0);
    expect(await progress(page).isVisible()).toBe(false);
    expect(await page.getByTestId('card-step').isVisible()).toBe(false);
    expect(await page.locator('#test-card-options input').count()).toBe(0);
    expect(await page.getByTestId('auth-step').isVisible()).toBe(false);
    const rows = page.getByTestId('history-row');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-purchase-id')).toBe(earlier.body.data.id);
    expect(await rows.first().textContent()).toContain(otherPack.name);
    expect(await page.getByTestId('history-empty').isVisible()).toBe(false);
    expect(await page.getByTestId('error').isVisible()).toBe(false);

    // From here on, the page speaks only as B: A's purchase is no longer polled.
    const tokensUsed = new Set<string>();
    page.on('request', (request) => {
      const authorization = request.headers().authorization;
      if (authorization) tokensUsed.add(authorization.replace(/^Bearer /, ''));
    });
    await page.waitForTimeout(2_500); // three of the page's poll intervals
    await page.getByTestId(`buy-${otherPack.id}`).click();
    await waitForPurchaseStatus(page, 'completed');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '600' }).waitFor();
    await page
      .locator(
        `[data-testid="history-row"][data-purchase-id="${await progress(page).getAttribute('data-purchase-id')}"]`,
      )
      .waitFor();
    await shot(page, 'switch-3-b-bought');
    expect([...tokensUsed]).toEqual([b.token]);

    // The purchase is B's, of B's pack; A cannot see it and A has only the purchase A started.
    const bPurchaseId = (await progress(page).getAttribute('data-purchase-id'))!;
    expect(bPurchaseId).not.toBe(aPurchaseId);
    const bought = await ok(h.app, 'GET', `/v1/portal/purchases/${bPurchaseId}`, { token: b.token });
    expect(bought).toMatchObject({ status: 'completed', creditPackId: otherPack.id, credits: 300 });
    const asA = await call(h.app, 'GET', `/v1/portal/purchases/${bPurchaseId}`, { token: a.token });
    expect(asA.status).toBe(404);
    const aPurchases = await ok(h.app, 'GET', '/v1/portal/purchases', { token: a.token });
    expect(aPurchases.map((p: { id: string }) => p.id)).toEqual([aPurchaseId]);
    expect((await ok(h.app, 'GET', '/v1/portal/balance', { token: b.token })).purchasedCredits).toBe(
      bBalance.purchasedCredits + 300,
    );
    expect((await ok(h.app, 'GET', '/v1/portal/balance', { token: a.token })).purchasedCredits).toBe(
      aBalance.purchasedCredits,
    );
    expect(loads).toBe(0);
    expectNoPageErrors(page);
    await page.close();

    // A's purchase, left waiting for a card, is canceled so nothing is left hanging.
    const canceled = await call(h.app, 'POST', `/v1/portal/purchases/${aPurchaseId}/cancel`, {
      token: a.token,
    });
    expect(canceled.status).toBe(200);
  });

  it('a customer cancels while the purchase waits for a card', async () => {
    const who = await h.customer({ plan: 'free' });
    const page = await openPortal(who, 'cancel');
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await page.getByTestId('card-step').waitFor({ state: 'visible' });
    await page.getByTestId('cancel').click();
    await waitForPurchaseStatus(page, 'canceled');
    expect(await page.getByTestId('progress-text').textContent()).toContain('The purchase was canceled.');
    expect(await page.getByTestId('card-step').isVisible()).toBe(false);
    await shot(page, 'cancel-2-canceled');
    expectNoPageErrors(page);
    await page.close();
  });

  it('a click after the answers were lost reuses the key: the purchase made meanwhile, not a second one', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const page = await openPortal(who, 'lost-answers');
    const keys: string[] = [];
    let lost = 0;
    // The checkout reaches the server, which records the purchase; its answer never reaches the page.
    await page.route('**/v1/portal/purchases', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      keys.push(route.request().headers()['idempotency-key'] ?? '');
      if (lost < 3) {
        lost += 1;
        await route.fetch();
        return route.abort('failed');
      }
      return route.continue();
    });
    await page.getByTestId(`buy-${h.pack.id}`).click();
    // The page's own three attempts all lost their answer: it says so, and the customer clicks again.
    await page.locator('#error:not([hidden])').waitFor();
    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'completed');
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
    const purchases = await ok(h.app, 'GET', '/v1/portal/purchases', { token: who.token });
    expect(purchases).toHaveLength(1);
    expect((await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token })).purchasedCredits).toBe(500);
    await page.close();
  });
});
