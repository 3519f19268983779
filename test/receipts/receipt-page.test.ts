import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, SCREENSHOTS, UI_TIMEOUT } from '../browser/chromium';
import { type PortalHarness, portalHarness } from '../checkout/harness';

/**
 * The receipt link of the portal page, in headless Chromium against the real portal: a completed
 * purchase's history row links its printable receipt, which opens in a new tab; a failed one has none.
 */

let h: PortalHarness;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  h = await portalHarness();
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('the receipt link (headless Chromium)', () => {
  it('opens the printable receipt of a completed purchase; a failed purchase has none', async () => {
    const who = await h.customer({ card: 'pm_card_visa' });
    const done = (await h.checkout(who, { creditPackId: h.pack.id, quantity: 2 })).body.data.id as string;
    await h.purchaseReaches(who, done, 'completed');

    const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(who.pageUrl);
    await page.locator('body[data-ready="true"]').waitFor();
    const row = page.locator(`[data-testid="history-row"][data-purchase-id="${done}"]`);
    await row.waitFor();

    const [tab] = await Promise.all([context.waitForEvent('page'), row.getByTestId('receipt-link').click()]);
    await tab.getByTestId('receipt-number').waitFor({ timeout: UI_TIMEOUT });
    expect(await tab.getByTestId('receipt-title').textContent()).toMatch(/^Receipt #\d+$/);
    expect(await tab.getByTestId('receipt-line').textContent()).toContain(h.pack.name);
    expect(await tab.getByTestId('receipt-total').textContent()).toBe('$80.00');
    expect(await tab.getByTestId('receipt-payment').textContent()).toContain('VISA ending in 4242');
    await tab.screenshot({ path: join(SCREENSHOTS, 'receipt-tab.png'), fullPage: true });
    expect(problems).toEqual([]);

    // A declined purchase: its row has no receipt link.
    const declined = await h.customer({ card: 'pm_card_chargeCustomerFail' });
    const failed = (await h.checkout(declined)).body.data.id as string;
    await h.purchaseReaches(declined, failed, 'failed');
    const other = await context.newPage();
    await other.goto(declined.pageUrl);
    await other.locator('body[data-ready="true"]').waitFor();
    const failedRow = other.locator(`[data-testid="history-row"][data-purchase-id="${failed}"]`);
    await failedRow.waitFor();
    expect(await failedRow.getByTestId('receipt-link').count()).toBe(0);
    await context.close();
  });
});
