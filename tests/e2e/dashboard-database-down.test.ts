import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { closeServer, listen } from '../../src/api/server.js';
import { Checks } from '../../src/checks/checks.js';
import { checkSettings } from '../../src/checks/settings.js';
import { migrate } from '../../src/db/migrations.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { MIGRATIONS_DIR, PACKAGE_ROOT } from '../../src/paths.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createLinked, nextUpdate, standInLauncher, testConfig } from '../support/fleet.js';
import { capturingLogger } from '../support/logger.js';
import { privateMysql } from '../support/private-mysql.js';
import { tempSessionRoot } from '../support/workers.js';
import { Messages } from '../../src/messages/messages.js';

/*
 * The dashboard while MySQL is down: it says so in a banner (with the journal's waiting count),
 * keeps showing every instance with its live status, marks the row-only fields stale, follows a
 * live status change without a reload, and drops the banner once the database is back. The
 * database is a private MariaDB this file starts and stops (the shared server is never touched);
 * the workers are stand-ins (same protocol, no browser), the page is a real Chromium.
 */

const TEMP = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'dashboard-db-down-'));
// A private MariaDB this test stops and starts; its port stays its own while it is down.
const privateDb = privateMysql('dashboard-mysql');
const startDb = privateDb.start;
const stopDb = privateDb.stop;

const README_SCREENSHOT = join(PACKAGE_ROOT, 'docs', 'dashboard-database-down.png');
const DESKTOP = { width: 1280, height: 900 };
/** The page reads /api/health and the list every 5 s while the database is down; a few rounds at most. */
const PAGE_MS = 30_000;
const STALE_FIELDS = ['enabled', 'webhookUrl', 'lastConnectedAt', 'createdAt', 'updatedAt'];
const BANNER_TEXT = /Database unreachable — showing live state; (\d+) changes? waiting to be written/;

const { log, output: logOutput } = capturingLogger({ level: 'warn' });
let url: string;
let pool: Pool | undefined;
let fleet: Fleet | undefined;
let checks: Checks | undefined;
let server: Server | undefined;
let base: string;
let apiKey: string;
let browser: Browser | undefined;

beforeAll(async () => {
  url = await startDb();
  await migrate(url, MIGRATIONS_DIR, log);
  pool = createPool({ url, size: 3 });
  const config = testConfig(url, tempSessionRoot());
  apiKey = config.apiKey ?? '';
  fleet = new Fleet({ config, pool, log, launch: standInLauncher });
  await fleet.start();
  // Built here, not with startTestApi, so errors the API logs land in this file's log.
  checks = new Checks({ fleet, log, settings: checkSettings(config) });
  const app = createApp({ pool, fleet, checks, config, log, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages: new Messages({ fleet: fleet, pool: pool, config: config, log: log }) });
  server = await listen(app, '127.0.0.1', 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  // Each step runs even when an earlier one failed: no worker, browser or MariaDB may outlive the file.
  const steps: Array<() => unknown> = [
    () => browser?.close(),
    () => server && closeServer(server),
    () => checks?.stop(),
    () => fleet?.stop(),
    () => pool?.end(),
    () => stopDb(),
  ];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  writeFileSync(join(TEMP, 'supervisor.log'), logOutput());
  if (failures.length > 0) throw failures[0];
}, 120_000);

/** A direct call with the key; a hang fails it after 20 s with what the supervisor logged. */
async function get(path: string): Promise<{ status: number; json: any }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { headers: { 'x-api-key': apiKey }, signal: AbortSignal.timeout(20_000) });
  } catch (error) {
    throw new Error(`GET ${path} got no answer: ${String(error)}\n--- supervisor log ---\n${logOutput()}`);
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // kept as text for the message
  }
  return { status: res.status, json };
}

/** Asserts a 2xx answer, with the body and the supervisor's log in the message when not. */
async function get2xx(path: string): Promise<any> {
  const { status, json } = await get(path);
  expect(status, `GET ${path} answered ${status}: ${JSON.stringify(json)}\n--- supervisor log ---\n${logOutput()}`).toBeGreaterThanOrEqual(200);
  expect(status, `GET ${path} answered ${status}: ${JSON.stringify(json)}\n--- supervisor log ---\n${logOutput()}`).toBeLessThan(300);
  return json;
}

const card = (page: Page, id: string, state = '') => page.locator(`article[data-instance="${id}"]${state}`);
const banner = (page: Page) => page.locator('#db-banner');

describe('the dashboard with the database down', { timeout: 300_000 }, () => {
  it('shows a banner and the live statuses while MySQL is down, follows a live change, and drops the banner once it is back', async () => {
    await createLinked(fleet!, 'down-a');
    await createLinked(fleet!, 'down-b');

    const page = await browser!.newPage({ viewport: DESKTOP });
    const problems: string[] = [];
    const answers: Array<{ method: string; path: string; status: number; at: number }> = [];
    const failed: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('response', (res) => {
      const { pathname } = new URL(res.url());
      if (pathname.startsWith('/api/')) answers.push({ method: res.request().method(), path: pathname, status: res.status(), at: Date.now() });
    });
    page.on('requestfailed', (req) => {
      const { pathname } = new URL(req.url());
      // The event stream is torn down on purpose when the page closes.
      if (pathname.startsWith('/api/') && pathname !== '/api/events') failed.push(`${req.method()} ${pathname}: ${req.failure()?.errorText}`);
    });
    try {
      await page.goto(base);
      await page.getByLabel('API key').fill(apiKey);
      await page.getByRole('button', { name: 'Connect' }).click();
      await card(page, 'down-a', '[data-status="CONNECTED"]').waitFor();
      await card(page, 'down-b', '[data-status="CONNECTED"]').waitFor();
      await page.locator('.stream-live').waitFor();
      expect(await banner(page).isVisible()).toBe(false);
      expect(await page.locator('article[data-stale]').count()).toBe(0);
      // Survives only if the page is never reloaded: everything after this must arrive live.
      await page.evaluate(() => Object.assign(window, { sameDocument: true }));

      await stopDb();
      const downSince = Date.now();

      // A live change while the database is away: a crash of down-a's page. The stand-in comes back
      // unlinked (QR_REQUIRED), and a simulated scan links it again; all of it recorded for later.
      const disconnected = nextUpdate(fleet!, 'down-a', 'DISCONNECTED', 10_000);
      const qrAgain = nextUpdate(fleet!, 'down-a', 'QR_REQUIRED', 30_000);
      await card(page, 'down-a').getByRole('button', { name: 'Simulate crash' }).click();
      await disconnected;
      await qrAgain;
      await card(page, 'down-a', '[data-status="QR_REQUIRED"]').waitFor({ timeout: PAGE_MS });

      // The banner, with the journal's waiting count from /api/health, and both instances with their live statuses.
      await banner(page).waitFor({ state: 'visible', timeout: PAGE_MS });
      await banner(page).getByText(BANNER_TEXT).waitFor({ timeout: PAGE_MS });
      await page.waitForFunction(
        (source) => {
          const m = new RegExp(source).exec(document.getElementById('db-banner')?.textContent?.replace(/\s+/g, ' ') ?? '');
          return m !== null && Number(m[1]) > 0;
        },
        BANNER_TEXT.source,
        { timeout: PAGE_MS },
      );
      await card(page, 'down-b', '[data-status="CONNECTED"]').waitFor();
      expect(await card(page, 'down-b').locator('.badge.status').textContent()).toBe('CONNECTED');
      expect(await card(page, 'down-a').locator('.badge.status').textContent()).toBe('QR_REQUIRED');
      // Row-only fields are marked stale on both cards once the list is read again (every 5 s while down).
      for (const id of ['down-a', 'down-b']) {
        await card(page, id, `[data-stale="${STALE_FIELDS.join(' ')}"]`).waitFor({ timeout: PAGE_MS });
        await card(page, id).locator('.stale-note').getByText('from the last read (database unreachable)').waitFor();
        expect(await card(page, id).locator('.stale-tag').count()).toBeGreaterThan(0);
      }
      expect(await page.locator('#meta').getByText('DB down').isVisible()).toBe(true);

      // Linked again, live, with the database still away.
      const relinked = nextUpdate(fleet!, 'down-a', 'CONNECTED', 30_000);
      await card(page, 'down-a').getByRole('button', { name: 'Simulate scan' }).click();
      await relinked;
      await card(page, 'down-a', '[data-status="CONNECTED"]').waitFor({ timeout: PAGE_MS });
      expect(await card(page, 'down-b').getAttribute('data-status')).toBe('CONNECTED');
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
      expect(await banner(page).isVisible()).toBe(true);

      // The API answered every call from the live state: 2xx, saying the database is down.
      const list = await get2xx('/api/instances');
      expect(list.database).toBe('down');
      expect(list.instances.map((i: { id: string }) => i.id).sort()).toEqual(['down-a', 'down-b']);
      for (const instance of list.instances) {
        expect(instance).toMatchObject({ connectionStatus: 'CONNECTED', stale: STALE_FIELDS });
        expect(instance.enabled).toBe(true); // read before the outage, shown from that read
      }
      const details = await get2xx('/api/instance/down-a/details');
      expect(details).toMatchObject({ database: 'down', events: [], instance: { id: 'down-a', connectionStatus: 'CONNECTED', stale: STALE_FIELDS } });
      const health = await get2xx('/api/health');
      expect(health).toMatchObject({ database: 'down', status: 'degraded' });
      expect(health.journalPending).toBeGreaterThan(0);
      const memory = await get2xx('/api/memory/report');
      expect(memory.database).toBe('down');

      // Nor did any call the page made during the outage fail.
      const duringOutage = answers.filter((a) => a.at >= downSince);
      expect(duringOutage.filter((a) => a.status >= 400), JSON.stringify(duringOutage)).toEqual([]);
      for (const path of ['/api/instances', '/api/health', '/api/instance/down-a/details']) {
        expect(duringOutage.some((a) => a.path === path), `the page did not call ${path} during the outage`).toBe(true);
      }
      expect(failed).toEqual([]);

      await page.screenshot({ path: join(TEMP, 'dashboard-database-down.png'), fullPage: true });
      mkdirSync(join(PACKAGE_ROOT, 'docs'), { recursive: true });
      copyFileSync(join(TEMP, 'dashboard-database-down.png'), README_SCREENSHOT);

      // The database is back: the journal writes what waited, and the banner goes on the next refresh.
      expect(await startDb()).toBe(url);
      await banner(page).waitFor({ state: 'hidden', timeout: 60_000 });
      await page.waitForFunction(() => document.querySelectorAll('article[data-stale]').length === 0, undefined, { timeout: PAGE_MS });
      expect(await card(page, 'down-a').getAttribute('data-status')).toBe('CONNECTED');
      expect(await card(page, 'down-b').getAttribute('data-status')).toBe('CONNECTED');
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
      await page.screenshot({ path: join(TEMP, 'dashboard-database-back.png'), fullPage: true });
      const back = await get2xx('/api/instances');
      expect(back.database).toBe('up');
      expect(back.instances.every((i: { stale?: unknown }) => i.stale === undefined)).toBe(true);
      expect(problems).toEqual([]);
      expect(failed).toEqual([]);
    } finally {
      await page.screenshot({ path: join(TEMP, 'dashboard-database-down-last.png'), fullPage: true }).catch(() => undefined);
      await page.close();
    }
  });

  it('shows enabled: null as "unknown", and keeps refreshing through failed requests until the database is back', async () => {
    expect(await startDb()).toBe(url); // up again (a no-op unless the first test failed during its outage)
    // The real API with the database up, its answers rewritten on the way to the page: first as
    // with the database down (one row never read), then failing, then passed through unchanged.
    let mode: 'down' | 'fail' | 'real' = 'down';
    const calls = { health: 0, list: 0, failedHealth: 0, failedList: 0 };
    const asDown = (instance: Record<string, unknown>) => ({ ...instance, stale: STALE_FIELDS, ...(instance.id === 'down-b' ? { enabled: null, webhookUrl: null, lastConnectedAt: null, createdAt: null, updatedAt: null } : {}) });
    const page = await browser!.newPage({ viewport: DESKTOP });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.route('**/api/health', async (route) => {
      calls.health++;
      if (mode === 'real') return route.continue();
      if (mode === 'fail') {
        calls.failedHealth++;
        return route.abort('connectionreset');
      }
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), status: 'degraded', database: 'down', journalPending: 7 } });
    });
    await page.route('**/api/instances', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      calls.list++;
      if (mode === 'real') return route.continue();
      if (mode === 'fail') {
        calls.failedList++;
        return route.fulfill({ status: 500, json: { error: { code: 'INTERNAL', message: 'internal error' } } });
      }
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { database: 'down', instances: body.instances.map(asDown) } });
    });
    await page.route('**/api/instance/*/details', async (route) => {
      if (mode === 'real') return route.continue();
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { ...body, database: 'down', events: [], instance: asDown(body.instance) } });
    });
    try {
      await page.goto(base);
      await page.getByLabel('API key').fill(apiKey);
      await page.getByRole('button', { name: 'Connect' }).click();
      await banner(page).getByText('Database unreachable — showing live state; 7 changes waiting to be written').waitFor({ timeout: PAGE_MS });
      await card(page, 'down-b', '[data-enabled="unknown"][data-status="CONNECTED"]').waitFor();
      await card(page, 'down-b').getByText('enabled: unknown').waitFor();
      expect(await card(page, 'down-b').locator('.enabled-value').textContent()).toBe('unknown');
      expect(await card(page, 'down-b').getByText('disabled', { exact: true }).count()).toBe(0);
      await card(page, 'down-a', '[data-enabled="true"][data-status="CONNECTED"]').waitFor();
      await page.locator('#fleet-summary').getByText('(1 enabled, 1 unknown)').waitFor();
      // Writes the API would refuse are not offered while the database is away.
      expect(await card(page, 'down-b').getByRole('button', { name: 'Disable' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Create' }).isDisabled()).toBe(true);
      await page.screenshot({ path: join(TEMP, 'dashboard-enabled-unknown.png'), fullPage: true });

      // Failing requests (network errors, 500s) for a while: the page keeps what it shows and keeps asking.
      mode = 'fail';
      const deadline = Date.now() + PAGE_MS;
      while ((calls.failedHealth < 2 || calls.failedList < 2) && Date.now() < deadline) await page.waitForTimeout(250);
      expect(calls.failedHealth, JSON.stringify(calls)).toBeGreaterThanOrEqual(2);
      expect(calls.failedList, JSON.stringify(calls)).toBeGreaterThanOrEqual(2);
      expect(await banner(page).isVisible()).toBe(true);
      expect(await page.locator('article[data-instance]').count()).toBe(2);

      // Answers again, with the database up: the banner goes on the next refresh, the marks with it.
      mode = 'real';
      await banner(page).waitFor({ state: 'hidden', timeout: PAGE_MS });
      await card(page, 'down-b', '[data-enabled="true"]').waitFor({ timeout: PAGE_MS });
      await page.waitForFunction(() => document.querySelectorAll('article[data-stale]').length === 0, undefined, { timeout: PAGE_MS });
      expect(await page.getByRole('button', { name: 'Create' }).isDisabled()).toBe(false);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
