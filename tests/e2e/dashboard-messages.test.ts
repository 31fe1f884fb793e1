import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * The messages section of an instance card, in a real browser against a real supervisor in demo
 * mode: send through the form (once, whatever the clicking), see the API's refusal in words, and
 * see a message the fake WhatsApp Web received arrive over the live stream.
 */

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
const DESKTOP = { width: 1280, height: 900 };
// A real worker starts Chromium and loads the fake WhatsApp Web: seconds on a loaded 2-core machine.
const WORKER_MS = 60_000;
const SEND_MS = 30_000;
const ID = 'msg-1';
const IDLE = 'msg-2';
const TO = '15551234567';

let db: TestDatabase | undefined;
let fleet: Fleet | undefined;
let api: TestApi;
let browser: Browser | undefined;
let page: Page | undefined;
const problems: string[] = [];
/** GET /api/instance/<id>/messages requests the page made, by instance. */
const listReads = new Map<string, number>();

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  // No pacing between sends: the test waits on each.
  const config = testConfig(db.url, tempSessionRoot(), { SEND_MIN_INTERVAL_MS: '0', SEND_JITTER_MS: '0' });
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger });
  await fleet.start();
  api = await startTestApi(fleet, db.pool, config);
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
  page = await browser.newPage({ viewport: DESKTOP });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`csp: ${message.text()}`);
  });
  page.on('request', (request) => {
    const match = /\/api\/instance\/([^/]+)\/messages(\?|$)/.exec(request.url());
    if (match && request.method() === 'GET') listReads.set(match[1]!, (listReads.get(match[1]!) ?? 0) + 1);
  });
  await page.goto(api.base);
}, 120_000);

afterAll(async () => {
  if (page) await page.screenshot({ path: join(ARTIFACTS, 'dashboard-messages-last.png'), fullPage: true }).catch(() => undefined);
  // Each step runs even when an earlier one failed: nothing may outlive the file.
  const steps = [() => browser?.close(), () => api?.close(), () => fleet?.stop(), () => db?.drop()];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});

const card = (id: string, state = ''): Locator => page!.locator(`article[data-instance="${id}"]${state}`);
const messagesOf = (id: string) => card(id).getByRole('region', { name: `Messages of ${id}` });
const rows = (id: string, selector = '') => messagesOf(id).locator(`li.msg${selector}`);

/** Opens the "Send a message" form of the card (once) and sends `text` to `to` with `click`. */
async function send(id: string, to: string, text: string, click: (button: Locator) => Promise<void> = (b) => b.click()): Promise<void> {
  const section = messagesOf(id);
  const summary = section.getByText('Send a message', { exact: true });
  if (!(await section.getByLabel('To', { exact: true }).isVisible())) await summary.click();
  await section.getByLabel('To', { exact: true }).fill(to);
  await section.getByLabel('Text to send', { exact: true }).fill(text);
  await click(section.getByRole('button', { name: 'Send message' }));
}

/** The fake page's own record of what it "sent to WhatsApp", with this body. */
async function sentOnPage(id: string, body: string): Promise<unknown[]> {
  const { status, json } = await api.call('GET', `/api/demo/${id}/sent`);
  expect(status).toBe(200);
  expect(json.id).toBe(id);
  return (json.sent as Array<{ body?: string }>).filter((m) => m.body === body);
}

async function outbound(id: string): Promise<Array<{ text: string; status: string; id: string; idempotencyKey: string | null }>> {
  const { status, json } = await api.call('GET', `/api/instance/${id}/messages?limit=50`);
  expect(status).toBe(200);
  return json.messages;
}

describe('the messages section of the dashboard', { timeout: 180_000 }, () => {
  it('links an instance through the dashboard; a send before that is refused in the API’s words', async () => {
    await page!.getByLabel('API key').fill(api.key);
    await page!.getByRole('button', { name: 'Connect' }).click();
    await page!.getByText('No instances yet.').waitFor();
    await page!.evaluate(() => Object.assign(window, { sameDocument: true }));

    await page!.getByLabel('New instance').fill(ID);
    await page!.getByRole('button', { name: 'Create' }).click();
    await card(ID, '[data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
    await messagesOf(ID).getByText('No messages yet.').waitFor();

    await send(ID, TO, 'too early');
    const refusal = await api.call('POST', `/api/instance/${ID}/messages`, { to: TO, text: 'too early' });
    expect(refusal.status).toBe(409);
    expect(refusal.json.error.code).toBe('NOT_LINKED');
    await messagesOf(ID).getByRole('alert').getByText(refusal.json.error.message, { exact: true }).waitFor();

    await card(ID).getByRole('button', { name: 'Simulate scan' }).click();
    await card(ID, '[data-status="CONNECTED"]').waitFor({ timeout: WORKER_MS });

    // A second instance, never started: the first one's messages must not make its card read.
    await page!.getByLabel('start now').uncheck();
    await page!.getByLabel('New instance').fill(IDLE);
    await page!.getByRole('button', { name: 'Create' }).click();
    await messagesOf(IDLE).getByText('No messages yet.').waitFor();
    expect(problems).toEqual([]);
  });

  it('sends a message from the form: listed, sent, and on the fake WhatsApp Web exactly once', async () => {
    const idleReads = listReads.get(IDLE) ?? 0;
    // Untrusted text: shown as typed, never parsed as HTML.
    const text = 'hello from the dashboard <img src=x onerror="window.pwned=1"><b>bold?</b>';
    await send(ID, TO, text);
    await messagesOf(ID).getByRole('status').getByText(/^Queued for \+15551234567/).waitFor();
    const row = rows(ID, '[data-direction="out"]').filter({ hasText: 'hello from the dashboard' });
    await row.waitFor();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: SEND_MS }).toMatch(/^(sent|delivered|read)$/);
    expect(await row.locator('.msg-body').textContent()).toBe(text);
    expect(await row.locator('.msg-chat').textContent()).toBe(`+${TO}`);
    expect(await messagesOf(ID).locator('img, b').count()).toBe(0);
    expect(await page!.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // The form is cleared of the text, keeps the recipient.
    expect(await messagesOf(ID).getByLabel('Text to send', { exact: true }).inputValue()).toBe('');
    expect(await messagesOf(ID).getByLabel('To', { exact: true }).inputValue()).toBe(TO);
    await messagesOf(ID).locator('[data-count="sent"] strong').getByText('1', { exact: true }).waitFor();

    const listed = (await outbound(ID)).filter((m) => m.text === text);
    expect(listed).toHaveLength(1);
    // Sent with an Idempotency-Key of its own.
    expect(listed[0]!.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await expect.poll(async () => (await sentOnPage(ID, text)).length, { timeout: SEND_MS }).toBe(1);
    // Nothing more arrives later (a retry would show up here).
    await sleep(1500);
    expect(await sentOnPage(ID, text)).toHaveLength(1);
    expect(listReads.get(IDLE) ?? 0).toBe(idleReads);
    await card(ID).screenshot({ path: join(ARTIFACTS, 'dashboard-messages-sent.png') });
    expect(problems).toEqual([]);
  });

  it('a double click on Send creates one message only', async () => {
    const text = `double click ${Date.now()}`;
    await send(ID, TO, text, (button) => button.dblclick());
    await rows(ID, '[data-direction="out"]').filter({ hasText: text }).waitFor();
    await expect.poll(async () => (await sentOnPage(ID, text)).length, { timeout: SEND_MS }).toBe(1);
    await sleep(1500);
    expect((await outbound(ID)).filter((m) => m.text === text)).toHaveLength(1);
    expect(await sentOnPage(ID, text)).toHaveLength(1);
    expect(await rows(ID, '[data-direction="out"]').filter({ hasText: text }).count()).toBe(1);
    await messagesOf(ID).locator('[data-count="sent"] strong').getByText('2', { exact: true }).waitFor({ timeout: SEND_MS });
    expect(await messagesOf(ID).locator('.msg-counts').textContent()).toBe('0 queued · 2 sent · 0 failed');
    expect(problems).toEqual([]);
  });

  it('an invalid recipient shows the API’s error text and sends nothing', async () => {
    const before = (await outbound(ID)).length;
    const bad = { to: 'not-a-number', text: 'never sent' };
    const answer = await api.call('POST', `/api/instance/${ID}/messages`, bad);
    expect(answer.status).toBe(400);
    expect(answer.json.error.code).toBe('VALIDATION_FAILED');
    await send(ID, bad.to, bad.text);
    const alert = messagesOf(ID).getByRole('alert');
    await alert.getByText(answer.json.error.message, { exact: true }).waitFor();
    expect(await messagesOf(ID).getByRole('button', { name: 'Send message' }).isEnabled()).toBe(true);
    expect(await outbound(ID)).toHaveLength(before);
    // The text stays for a correction.
    expect(await messagesOf(ID).getByLabel('Text to send', { exact: true }).inputValue()).toBe(bad.text);
    expect(problems).toEqual([]);
  });

  it('a simulated incoming message appears in the card, as text', async () => {
    const section = messagesOf(ID);
    await section.getByText('Simulate incoming message', { exact: true }).click();
    const body = 'hi there <script>window.pwned=2</script>';
    await section.getByLabel('From', { exact: true }).fill('15557654321');
    await section.getByLabel('Text received', { exact: true }).fill(body);
    await section.getByRole('button', { name: 'Simulate incoming message' }).click();
    const row = rows(ID, '[data-direction="in"]').filter({ hasText: 'hi there' });
    await row.waitFor({ timeout: SEND_MS });
    expect(await row.locator('.msg-body').textContent()).toBe(body);
    expect(await row.locator('.msg-chat').textContent()).toBe('+15557654321');
    expect(await row.getAttribute('data-status')).toBe('received');
    expect(await section.locator('script').count()).toBe(0);
    expect(await page!.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // Still the first page: it all arrived over the live stream.
    expect(await page!.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await card(ID).screenshot({ path: join(ARTIFACTS, 'dashboard-messages-received.png') });
    expect(problems).toEqual([]);
  });
});
