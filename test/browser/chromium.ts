import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (scripts/ensure-browser.sh installs it); never a Playwright browser download. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots are kept as test artifacts here. */
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'browser');
export const UI_TIMEOUT = 30_000;

/** Headless Chromium, quiet: no network of its own beyond what the page asks for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
