import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
const README_SCREENSHOT = join(PACKAGE_ROOT, 'docs', 'dashboard.png');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
// A real worker starts Chromium and loads the fake WhatsApp Web: seconds on a loaded 2-core machine.
const WORKER_MS = 60_000;

let db: TestDatabase | undefined;
let fleet: Fleet | undefined;
let api: TestApi;
let browser: Browser | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot());
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger });
  await fleet.start();
  api = await startTestApi(fleet, db.pool, config);
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  // Each step runs even when an earlier one failed: nothing may outlive the file.
  const steps = [() => browser?.close(), () => api?.close(), () => fleet?.stop(), () => db?.drop()];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});

/** A fresh page that records uncaught script errors and CSP violations (an inline script would be one). */
async function openPage(viewport = DESKTOP): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`csp: ${message.text()}`);
  });
  await page.goto(api.base);
  return { page, problems };
}

async function enterKey(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Connect' }).click();
}

const card = (page: Page, id: string, state = '') => page.locator(`article[data-instance="${id}"]${state}`);

describe('the dashboard in a real browser', { timeout: 180_000 }, () => {
  it('links an instance by QR and a simulated scan, shows it CONNECTED live, then disables it', async () => {
    const { page, problems } = await openPage();
    try {
      await enterKey(page, api.key);
      await page.getByText('No instances yet.').waitFor();
      await page.getByText('DEMO MODE — fake WhatsApp Web').waitFor();
      // Survives only if the page is never reloaded: the rest must arrive over the live stream.
      await page.evaluate(() => Object.assign(window, { sameDocument: true }));

      await page.getByLabel('New instance').fill('dash-1');
      await page.getByRole('button', { name: 'Create' }).click();
      await card(page, 'dash-1').waitFor();
      await card(page, 'dash-1').getByRole('button', { name: 'Show QR' }).click();
      const qr = card(page, 'dash-1').getByRole('img', { name: 'QR code to link dash-1' });
      await qr.waitFor({ timeout: WORKER_MS });
      expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
      expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
      await card(page, 'dash-1', '[data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
      await card(page, 'dash-1').screenshot({ path: join(ARTIFACTS, 'dashboard-qr.png') });

      await card(page, 'dash-1').getByRole('button', { name: 'Simulate scan' }).click();
      await card(page, 'dash-1', '[data-status="CONNECTED"]').waitFor({ timeout: WORKER_MS });
      expect(await card(page, 'dash-1').locator('.badge.status').textContent()).toBe('CONNECTED');
      await card(page, 'dash-1').getByText('Linked: the phone is connected.').waitFor();
      await card(page, 'dash-1').getByText(/^\+\d+/).waitFor();
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);

      // A second, disabled instance, so the fleet view shows more than one state.
      await page.getByLabel('start now').uncheck();
      await page.getByLabel('New instance').fill('dash-2');
      await page.getByRole('button', { name: 'Create' }).click();
      await card(page, 'dash-2', '[data-enabled="false"]').waitFor();
      await page.locator('#fleet-summary').getByText('CONNECTED 1', { exact: true }).waitFor();
      await page.getByText(/memory report unavailable|of .* cap/).first().waitFor();

      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-fleet.png'), fullPage: true });
      mkdirSync(join(PACKAGE_ROOT, 'docs'), { recursive: true });
      copyFileSync(join(ARTIFACTS, 'dashboard-fleet.png'), README_SCREENSHOT);
      await page.setViewportSize(PHONE);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await page.setViewportSize(DESKTOP);

      await card(page, 'dash-1').getByRole('button', { name: 'Disable' }).click();
      await card(page, 'dash-1', '[data-enabled="false"][data-status="DISCONNECTED"]').waitFor({ timeout: WORKER_MS });
      const details = await api.call('GET', '/api/instance/dash-1/details');
      expect(details.json.instance).toMatchObject({ enabled: false, connectionStatus: 'DISCONNECTED', worker: null });

      await card(page, 'dash-2').getByRole('button', { name: 'Delete' }).click();
      await card(page, 'dash-2').getByRole('button', { name: 'Yes, delete' }).click();
      await card(page, 'dash-2').waitFor({ state: 'detached' });
      expect((await api.call('GET', '/api/instance/dash-2/details')).status).toBe(404);
      expect(problems).toEqual([]);
    } finally {
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-last.png'), fullPage: true }).catch(() => undefined);
      await page.close();
    }
  });

  it('says a wrong key was not accepted, keeps the key form, and lets the right key in', async () => {
    const { page, problems } = await openPage();
    try {
      await enterKey(page, 'wrong-key-0123456789');
      const message = page.getByRole('alert');
      await message.getByText('That API key was not accepted').waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-wrong-key.png') });
      expect(await page.getByLabel('API key').isVisible()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('wa-fleet.apiKey'))).toBeNull();

      await enterKey(page, api.key);
      await page.locator('#fleet-summary').getByText('Instances').waitFor();
      expect(await page.getByRole('alert').isVisible()).toBe(false);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
