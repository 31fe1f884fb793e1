// Issue 13: the dashboard over plain HTTP on a LAN address (the default HOST=0.0.0.0). Browsers
// exempt only localhost from `upgrade-insecure-requests`, so a CSP carrying it turns every script,
// stylesheet and fetch of the dashboard into an https:// request nobody answers: a blank page that
// a test on 127.0.0.1 never sees. This one serves the app on 0.0.0.0 and browses it through the
// machine's own non-loopback address.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import helmet from 'helmet';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { closeServer, listen } from '../../src/api/server.js';
import { Checks } from '../../src/checks/checks.js';
import { checkSettings } from '../../src/checks/settings.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { standInLauncher, testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';
import { Messages } from '../../src/messages/messages.js';

/** The first non-loopback IPv4 address of this machine; throws (nothing created yet) when there is none. */
function lanAddress(): string {
  const all = Object.entries(networkInterfaces()).flatMap(([name, addresses]) => (addresses ?? []).map((a) => ({ name, ...a })));
  const found = all.find((a) => a.family === 'IPv4' && !a.internal);
  if (!found) {
    const seen = all.map((a) => `${a.name} ${a.address}`).join(', ') || 'none';
    throw new Error(`dashboard-lan needs a non-loopback IPv4 address to browse the dashboard through, and this machine has none (interfaces: ${seen})`);
  }
  return found.address;
}

/** A CSP header as directive → values, order-free. */
function parseCsp(header: string | null | undefined): Record<string, string[]> {
  expect(header, 'Content-Security-Policy header').toBeTruthy();
  return Object.fromEntries(
    header!
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...values]) => [name, values]),
  );
}

const HELMET_DEFAULT_CSP = Object.fromEntries(Object.entries(helmet.contentSecurityPolicy.getDefaultDirectives()).map(([k, v]) => [k, [...(v as Iterable<string>)]]));
const { 'upgrade-insecure-requests': _upgrade, ...PLAIN_HTTP_CSP } = HELMET_DEFAULT_CSP;

const KEY = 'test-key-0123456789abcdef';
const WORKER_MS = 30_000;

let db: TestDatabase | undefined;
let fleet: Fleet | undefined;
let app: Express;
let server: Server | undefined;
let tlsServer: HttpsServer | undefined;
let tlsDir: string | undefined;
let browser: Browser | undefined;
let base: string;

beforeAll(async () => {
  const ip = lanAddress();
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot());
  expect(config.apiKey).toBe(KEY);
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
  await fleet.start();
  const checks = new Checks({ fleet, log: silentLogger, settings: checkSettings(config) });
  app = createApp({ pool: db.pool, fleet, checks, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages: new Messages({ fleet: fleet, pool: db.pool, config: config, log: silentLogger }) });
  // As the supervisor listens by default: on every address, reached here through the LAN one.
  server = await listen(app, '0.0.0.0', 0);
  base = `http://${ip}:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
});

afterAll(async () => {
  // Each step runs even when an earlier one failed: nothing may outlive the file.
  const steps = [
    () => browser?.close(),
    () => tlsServer && new Promise<void>((resolve) => tlsServer!.close(() => resolve()).closeAllConnections()),
    () => server && closeServer(server),
    () => fleet?.stop(),
    () => db?.drop(),
    () => tlsDir && rmSync(tlsDir, { recursive: true, force: true }),
  ];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});

describe('the dashboard over plain HTTP on a LAN address', { timeout: 120_000 }, () => {
  it('sends no upgrade-insecure-requests and no HSTS over plain HTTP, and otherwise helmet’s default CSP', async () => {
    for (const path of ['/', '/app.js', '/api/health']) {
      const res = await fetch(`${base}${path}`, { headers: { 'x-api-key': KEY } });
      await res.arrayBuffer();
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy');
      expect(csp, path).not.toMatch(/upgrade-insecure-requests/i);
      expect(parseCsp(csp), path).toEqual(PLAIN_HTTP_CSP);
      expect(res.headers.get('strict-transport-security'), path).toBeNull();
    }
  });

  it('loads every script and stylesheet over http://, takes the key and shows a new instance live', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(base).origin;
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to|Mixed Content|upgrade/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    page.on('request', (request) => {
      const url = request.url();
      // An upgraded request shows up here as https://<ip>:<port>/…, a different origin.
      if (!url.startsWith('data:') && new URL(url).origin !== origin) problems.push(`request off the page's origin: ${request.method()} ${url}`);
    });
    page.on('requestfailed', (request) => {
      // The live stream is cut when the page closes; nothing else may fail.
      if (!request.url().includes('/api/events')) problems.push(`failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    });
    try {
      const response = await page.goto(`${base}/`);
      expect(response?.status()).toBe(200);
      expect(page.url()).toBe(`${base}/`);
      // The page's own loads first: a rewritten (upgraded) script or stylesheet shows up here by URL.
      await page.waitForLoadState('load');
      expect(problems).toEqual([]);
      expect(response?.headers()['content-security-policy']).not.toMatch(/upgrade-insecure-requests/i);

      await page.getByLabel('API key').fill(KEY);
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.getByText('No instances yet.').waitFor();
      // The stylesheet applied: the key form is gone and the page is laid out by style.css.
      expect(await page.evaluate(() => Array.from(document.styleSheets).some((sheet) => sheet.href?.endsWith('/style.css') && sheet.cssRules.length > 0))).toBe(true);

      await page.getByLabel('New instance').fill('lan-1');
      await page.getByRole('button', { name: 'Create' }).click();
      const card = page.locator('article[data-instance="lan-1"]');
      await card.waitFor();
      // The stand-in shows a QR at once: the status arrives over the live stream (EventSource).
      await page.locator('article[data-instance="lan-1"][data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('over TLS still sends helmet’s full default CSP (with upgrade-insecure-requests) and HSTS', async () => {
    tlsDir = mkdtempSync(join(tmpdir(), 'wa-fleet-tls-'));
    const key = join(tlsDir, 'key.pem');
    const cert = join(tlsDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    tlsServer = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, app);
    await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve));
    const port = (tlsServer.address() as AddressInfo).port;
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      });
      req.on('error', reject);
      req.end();
    });
    expect(parseCsp(headers['content-security-policy'] as string)).toEqual(HELMET_DEFAULT_CSP);
    expect(headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('takes X-Forwarded-Proto: https for TLS only from a proxy in TRUSTED_PROXIES', async () => {
    const config = testConfig(db!.url, tempSessionRoot(), { TRUSTED_PROXIES: '127.0.0.1' });
    const checks = new Checks({ fleet: fleet!, log: silentLogger, settings: checkSettings(config) });
    const viaProxy = createApp({ pool: db!.pool, fleet: fleet!, checks, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages: new Messages({ fleet: fleet!, pool: db!.pool, config: config, log: silentLogger }) });
    const proxied = await listen(viaProxy, '0.0.0.0', 0);
    try {
      const port = (proxied.address() as AddressInfo).port;
      const get = async (host: string) => {
        const res = await fetch(`http://${host}:${port}/`, { headers: { 'x-forwarded-proto': 'https' } });
        await res.arrayBuffer();
        return { csp: parseCsp(res.headers.get('content-security-policy')), hsts: res.headers.get('strict-transport-security') };
      };
      // From the trusted proxy (loopback): it says the browser spoke TLS to it.
      expect(await get('127.0.0.1')).toEqual({ csp: HELMET_DEFAULT_CSP, hsts: 'max-age=31536000; includeSubDomains' });
      // The same header from an untrusted client (the LAN address) changes nothing.
      expect(await get(new URL(base).hostname)).toEqual({ csp: PLAIN_HTTP_CSP, hsts: null });
    } finally {
      await closeServer(proxied);
    }
    // And with no TRUSTED_PROXIES (the app under test) not even loopback is believed.
    const res = await fetch(`${base.replace(new URL(base).hostname, '127.0.0.1')}/`, { headers: { 'x-forwarded-proto': 'https' } });
    await res.arrayBuffer();
    expect(parseCsp(res.headers.get('content-security-policy'))).toEqual(PLAIN_HTTP_CSP);
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});
