// Debian's Chromium, driven by playwright-core: never a downloaded browser.
import fs from 'node:fs';
import { type Browser, type BrowserContextOptions, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why browser tests are skipped, or false when they run. */
export const chromiumSkip: string | false = fs.existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing (apt-get install chromium): browser tests need a real browser`;

/** Headless, and without the background traffic that this closed network would refuse. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
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

/** The screenshot tests' two devices: name, context options, and the PNG's width in pixels. */
export const SCREENSHOT_DEVICES: [string, BrowserContextOptions, number][] = [
  ['desktop', { viewport: { width: 1280, height: 800 } }, 1280],
  [
    'mobile',
    { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
    780,
  ],
];
