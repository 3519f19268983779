import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../catalog/helpers';
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
});
