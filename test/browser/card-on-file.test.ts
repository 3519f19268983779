import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../catalog/helpers';
import { type PortalCustomer, type PortalHarness, portalHarness } from '../checkout/harness';
import { waitFor } from '../support/wait';
import { launchChromium, SCREENSHOTS, UI_TIMEOUT } from './chromium';

/**
 * The portal page's balance and card on file in headless Chromium, against the real portal server, a
 * real worker and the Stripe emulator (as test/browser/portal-page.test.ts): the debt a refund after
 * usage leaves, the card shown and replaced, and a declined purchase bought again with another card.
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

async function openPortal(who: PortalCustomer, name: string): Promise<Page & { problems: string[] }> {
  const page = (await browser.newPage({ viewport: { width: 1000, height: 1600 } })) as Page & {
    problems: string[];
  };
  page.setDefaultTimeout(UI_TIMEOUT);
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
  });
  await page.goto(who.pageUrl);
  await page.locator('body[data-ready="true"]').waitFor();
  await shot(page, `${name}-1-loaded`);
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

const progress = (page: Page) => page.locator('#progress');
const waitForPurchaseStatus = (page: Page, status: string) =>
  page.locator(`#progress[data-status="${status}"]`).waitFor({ timeout: UI_TIMEOUT });

/** The card a purchase's PaymentIntent charged. */
async function chargedCard(purchaseId: string): Promise<string | null> {
  const row = await h.env.row(purchaseId);
  if (!row.stripe_payment_intent_id) return null;
  const pi = await h.env.stripe.paymentIntents.retrieve(row.stripe_payment_intent_id);
  return typeof pi.payment_method === 'string' ? pi.payment_method : (pi.payment_method?.id ?? null);
}

async function stripeDefaultOf(who: PortalCustomer): Promise<string | null> {
  const [row] = await h.env.sql<{ stripe_customer_id: string | null }[]>`
    select stripe_customer_id from customers where id = ${who.id}`;
  if (!row?.stripe_customer_id) return null;
  const customer = await h.env.stripe.customers.retrieve(row.stripe_customer_id);
  if (customer.deleted) return null;
  const pm = customer.invoice_settings.default_payment_method;
  return typeof pm === 'string' ? pm : (pm?.id ?? null);
}

describe('the portal page: balance and card on file (headless Chromium)', () => {
  it('a saved card that declines: the page shows it, "Use another card" saves a good card and the purchase completes', async () => {
    const who = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const page = await openPortal(who, 'use-another-card');
    expect(await page.getByTestId('card-summary').textContent()).toMatch(
      /^Visa ending in 0341, expires \d{2}\/\d{4}\.$/,
    );
    expect(await page.getByTestId('use-another-card').isVisible()).toBe(false);

    await page.getByTestId(`buy-${h.pack.id}`).click();
    await waitForPurchaseStatus(page, 'failed');
    expect(await page.getByTestId('progress-text').textContent()).toContain('Your card was declined.');
    const declinedId = (await progress(page).getAttribute('data-purchase-id'))!;
    await page.getByTestId('use-another-card').waitFor({ state: 'visible' });
    await shot(page, 'use-another-card-2-declined');

    await page.getByTestId('use-another-card').click();
    await page.getByTestId('replace-step').waitFor({ state: 'visible' });
    await page.getByTestId('replace-card-4242').check();
    expect(await page.getByTestId('save-replacement').textContent()).toBe('Save card and buy again');
    await shot(page, 'use-another-card-3-new-card');
    await page.getByTestId('save-replacement').click();

    // A new purchase of the same pack, charged on the new card, completes.
    await page
      .locator(`#progress[data-status="completed"]:not([data-purchase-id="${declinedId}"])`)
      .waitFor();
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    await page.locator('[data-testid="card-summary"][data-last4="4242"]').waitFor();
    expect(await page.getByTestId('card-saved').textContent()).toBe('Your new card is saved.');
    expect(await page.getByTestId('replace-step').isVisible()).toBe(false);
    expect(await page.getByTestId('use-another-card').isVisible()).toBe(false);
    await page.locator('[data-testid="history-row"][data-status="completed"]').waitFor();
    expect(await page.locator('[data-testid="history-row"][data-status="failed"]').count()).toBe(1);
    await shot(page, 'use-another-card-4-completed');

    const newId = (await progress(page).getAttribute('data-purchase-id'))!;
    const purchases = await ok(h.app, 'GET', '/v1/portal/purchases', { token: who.token });
    expect(purchases.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
      [newId, 'completed'],
      [declinedId, 'failed'],
    ]);
    const newCard = await stripeDefaultOf(who);
    expect(await chargedCard(newId)).toBe(newCard);
    expect(await chargedCard(declinedId)).not.toBe(newCard);
    const card = await ok(h.app, 'GET', '/v1/portal/payment-method', { token: who.token });
    expect(card).toMatchObject({ brand: 'visa', last4: '4242' });
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('"Add a card" from the card section with a 3-D Secure card: authenticated, it is the card on file', async () => {
    const who = await h.customer({ plan: 'free' });
    const page = await openPortal(who, 'replace-card');
    expect(await page.getByTestId('card-summary').textContent()).toContain('No card on file');
    expect(await page.getByTestId('replace-card').textContent()).toBe('Add a card');
    expect(await page.getByTestId('who').textContent()).toContain('no card on file');

    await page.getByTestId('replace-card').click();
    await page.getByTestId('replace-card-3184').check();
    await page.getByTestId('save-replacement').click();
    await page.getByTestId('replace-auth').waitFor({ state: 'visible' });
    await shot(page, 'replace-card-2-3ds');
    // Nothing is saved before the bank's confirmation.
    expect(await ok(h.app, 'GET', '/v1/portal/payment-method', { token: who.token })).toBeNull();
    await page.getByTestId('replace-auth-succeed').click();
    await page.locator('[data-testid="card-summary"][data-last4="3184"]').waitFor();
    expect(await page.getByTestId('replace-card').textContent()).toBe('Replace card');
    await page.getByTestId('who').filter({ hasText: '· card on file' }).waitFor();
    await shot(page, 'replace-card-3-saved');
    expect(await ok(h.app, 'GET', '/v1/portal/payment-method', { token: who.token })).toMatchObject({
      last4: '3184',
    });
    // No purchase was made by saving a card.
    expect(await ok(h.app, 'GET', '/v1/portal/purchases', { token: who.token })).toEqual([]);
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('the balance shows a debt when purchased credits are negative (refunded after they were used)', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const bought = await h.checkout(who);
    const done = await h.purchaseReaches(who, bought.body.data.id, 'completed');
    const before = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    // Every credit used (plan credits first, then the 500 purchased), then the purchase refunded in full.
    await ok(h.app, 'POST', `/v1/customers/${who.id}/usage`, {
      token: h.world.apiKey,
      body: { credits: before.total },
      headers: { 'idempotency-key': randomUUID() },
      status: 200,
    });
    await ok(h.app, 'POST', `/v1/purchases/${done.id}/refunds`, {
      token: h.world.apiKey,
      body: {},
      headers: { 'idempotency-key': randomUUID() },
      status: 202,
    });
    const balance = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    expect(balance).toEqual({ planCredits: 0, purchasedCredits: -500, total: -500 });

    const page = await openPortal(who, 'debt');
    expect(await page.getByTestId('purchased-credits').textContent()).toBe('-500');
    expect(await page.getByTestId('total-credits').textContent()).toBe('-500');
    expect(await page.getByTestId('purchased-credits').getAttribute('class')).toContain('negative');
    await page.getByTestId('debt').waitFor({ state: 'visible' });
    expect(await page.getByTestId('debt').textContent()).toContain('You owe 500 credits');
    await shot(page, 'debt-2-shown');
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('no debt shown while purchased credits are zero or more', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const page = await openPortal(who, 'no-debt');
    expect(await page.getByTestId('purchased-credits').textContent()).toBe('0');
    expect(await page.getByTestId('debt').isVisible()).toBe(false);
    expect(await page.getByTestId('purchased-credits').getAttribute('class')).toBeNull();
    await page.close();
  });
});

describe('the portal page: auto top-up panel (headless Chromium)', () => {
  /** The customer's auto top-up purchases, oldest first, once `count` of them have settled. */
  const settledTopUps = (who: PortalCustomer, count: number) =>
    waitFor(async () => {
      const all = (await ok(h.app, 'GET', '/v1/portal/purchases', { token: who.token }))
        .filter((p: { trigger: string }) => p.trigger === 'auto_top_up')
        .reverse();
      const done = all.filter((p: { status: string }) => ['completed', 'failed'].includes(p.status));
      return all.length === count && done.length === count ? all : null;
    }, `${count} settled top-ups`);

  it('off at first; saved with the total below the threshold, it tops up at once and the page follows it', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const page = await openPortal(who, 'auto-top-up');
    await page.getByTestId('auto-form').waitFor({ state: 'visible' });
    expect(await page.getByTestId('auto-state').getAttribute('data-state')).toBe('off');
    expect(await page.getByTestId('auto-state').textContent()).toMatch(/^Off/);
    expect(await page.getByTestId('auto-paused').isVisible()).toBe(false);

    // A threshold that is not a number of credits is refused on the page; nothing is saved.
    await page.getByTestId('auto-enabled').check();
    await page.getByTestId('auto-threshold').fill('-5');
    await page.getByTestId('auto-limit').fill('100');
    await page.getByTestId('auto-save').click();
    await page.locator('#error:not([hidden])').waitFor();
    expect(await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: who.token })).toMatchObject({
      state: 'off',
    });

    // The total is 1,000 plan credits: a threshold of 1,500 tops up at once.
    await page.getByTestId('auto-threshold').fill('1500');
    await page.getByTestId('auto-pack').selectOption(h.pack.id);
    await page.getByTestId('auto-save').click();
    await page.locator('[data-testid="auto-state"][data-state="active"]').waitFor();
    expect(await page.getByTestId('auto-saved').isVisible()).toBe(true);
    expect(await page.getByTestId('auto-state').textContent()).toContain(
      'when your credits fall below 1,500',
    );
    expect(await page.getByTestId('auto-state').textContent()).toContain('at most $100.00 a month');
    await waitForPurchaseStatus(page, 'completed');
    expect(await page.locator('#progress-title').textContent()).toBe('Auto top-up');
    await page.locator('[data-testid="purchased-credits"]', { hasText: '500' }).waitFor();
    expect(await page.locator('[data-testid="history-row"]').textContent()).toContain('(auto top-up)');
    await shot(page, 'auto-top-up-2-saved-and-topped-up');

    expect(await ok(h.app, 'GET', '/v1/portal/auto-top-up', { token: who.token })).toEqual({
      enabled: true,
      thresholdCredits: 1500,
      creditPackId: h.pack.id,
      quantity: 1,
      monthlyLimit: 10000,
      state: 'active',
      pausedReason: null,
    });
    const [topUp] = await settledTopUps(who, 1);
    expect(topUp).toMatchObject({ status: 'completed', trigger: 'auto_top_up' });
    expect(page.problems).toEqual([]);
    await page.close();
  });

  it('paused after three declines, the page says why; replacing the card resumes it and the top-up completes', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    await ok(h.app, 'PUT', '/v1/portal/auto-top-up', {
      token: who.token,
      body: { enabled: true, thresholdCredits: 100, creditPackId: h.pack.id, monthlyLimit: 1_000_000 },
      status: 200,
    });
    const oldCard = (await stripeDefaultOf(who))!;
    await h.emulator('POST', `/payment_methods/${oldCard}/decline_charges`, {
      decline_code: 'insufficient_funds',
    });
    const use = (credits: number) =>
      ok(h.app, 'POST', `/v1/customers/${who.id}/usage`, {
        token: h.world.apiKey,
        body: { credits },
        headers: { 'idempotency-key': randomUUID() },
        status: 200,
      });
    const { total } = await ok(h.app, 'GET', '/v1/portal/balance', { token: who.token });
    await use(total - 50);
    await settledTopUps(who, 1);
    await use(10);
    await settledTopUps(who, 2);
    await use(10);
    await settledTopUps(who, 3);

    const page = await openPortal(who, 'auto-top-up-paused');
    await page.locator('[data-testid="auto-state"][data-state="paused"]').waitFor();
    const paused = page.getByTestId('auto-paused');
    expect(await paused.getAttribute('data-reason')).toBe('card_declined');
    expect(await paused.textContent()).toContain('declined three times in a row');
    expect(await page.getByTestId('auto-enabled').isChecked()).toBe(true);
    expect(await page.getByTestId('auto-threshold').inputValue()).toBe('100');
    expect(await page.getByTestId('auto-limit').inputValue()).toBe('10000.00');
    await shot(page, 'auto-top-up-paused-2-paused');

    await page.getByTestId('replace-card').click();
    await page.getByTestId('replace-card-4242').check();
    await page.getByTestId('save-replacement').click();
    await page.locator('[data-testid="card-summary"][data-last4="4242"]').waitFor();
    await page.locator('[data-testid="auto-state"][data-state="active"]').waitFor();
    expect(await paused.isVisible()).toBe(false);
    // Resumed below the threshold (30 credits left): the top-up is made at once, on the new card.
    await waitForPurchaseStatus(page, 'completed');
    expect(await page.locator('#progress-title').textContent()).toBe('Auto top-up');
    await page.locator('[data-testid="total-credits"]', { hasText: '530' }).waitFor();
    await shot(page, 'auto-top-up-paused-3-resumed');
    const topUps = await settledTopUps(who, 4);
    expect(topUps.map((p: { status: string }) => p.status)).toEqual([
      'failed',
      'failed',
      'failed',
      'completed',
    ]);
    expect(await chargedCard(topUps[3].id)).toBe(await stripeDefaultOf(who));
    expect(page.problems).toEqual([]);
    await page.close();
  });
});
