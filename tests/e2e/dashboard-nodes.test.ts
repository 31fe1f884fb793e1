import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { startStandInApi, type StandInApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * The dashboard's nodes panel in a real browser. CLUSTER=on with one node: a whole supervisor
 * (leases, placement, drain) on real workers and the fake WhatsApp Web. The panel lists the node
 * with its load; the card names the node that runs the instance; Drain (confirmed) hands the
 * instance over and, no other node being up, leaves it unowned: the card's node goes and the node
 * reads "draining"; Resume brings it back and the node claims the instance again. Then a second
 * node (a second supervisor in this process, same database) joins and the first is drained: the
 * card, on the first node's dashboard, names the second, a move the first node's event stream
 * never tells. Then CLUSTER=off (stand-in workers): one compact line, no drain.
 */

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
// A real worker starts Chromium and loads the fake WhatsApp Web: seconds on a loaded 2-core machine.
const WORKER_MS = 60_000;
// The panel is read every 5 s; a hand-over stops a worker first.
const MOVE_MS = 30_000;
const NODE = 'dash-node-1';
const OTHER = 'dash-node-2';
const CAPACITY = 7;
const ID = 'placed-1';

let db: TestDatabase | undefined;
let supervisor: Supervisor | undefined;
let second: Supervisor | undefined;
let off: StandInApi | undefined;
let browser: Browser | undefined;
let base = '';
let key = '';

async function call(method: string, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'x-api-key': key } });
  return { status: res.status, json: await res.json() };
}

/** A node of the cluster on the test database: a whole supervisor with its own session folder and port. */
async function startNode(nodeId: string): Promise<Supervisor> {
  const config = testConfig(db!.url, tempSessionRoot(), {
    CLUSTER: 'on',
    SESSION_STORE: 'mysql',
    NODE_ID: nodeId,
    NODE_MAX_INSTANCES: String(CAPACITY),
    LEASE_TTL_MS: '6000',
    LEASE_RENEW_MS: '1000',
    HOST: '127.0.0.1',
    PORT: '0',
  });
  key = config.apiKey ?? '';
  const node = new Supervisor({ config, log: silentLogger });
  await node.start();
  return node;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  supervisor = await startNode(NODE);
  base = `http://127.0.0.1:${supervisor.address!.port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  // Each step runs even when an earlier one failed: nothing may outlive the file.
  const steps = [() => browser?.close(), () => supervisor?.stop(), () => second?.stop(), () => db?.drop(), () => off?.close()];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}, 120_000);

/** A fresh page on `url` that records uncaught script errors and CSP violations, with the key entered. */
async function openDashboard(url: string, apiKey: string, viewport = DESKTOP): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`csp: ${message.text()}`);
  });
  await page.goto(url);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Connect' }).click();
  return { page, problems };
}

const nodeRow = (page: Page, state = '', node = NODE) => page.locator(`#nodes li.node[data-node="${node}"]${state}`);
const card = (page: Page, id: string, state = '') => page.locator(`article[data-instance="${id}"]${state}`);
/** The value of the card's "Node" fact, as the operator reads it. */
const cardNode = (page: Page, id: string) => card(page, id).locator('.fact:has(dt:text-is("Node")) dd');

describe('the nodes panel in a real browser', { timeout: 240_000 }, () => {
  it('CLUSTER=on: lists the node with its load, names it on the card, drains it (confirmed) and resumes it', async () => {
    const { page, problems } = await openDashboard(base, key);
    const actions: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && /\/api\/nodes\//.test(request.url())) actions.push(new URL(request.url()).pathname);
    });
    try {
      // The node, marked as the one that answered, up, running nothing yet.
      await nodeRow(page, '[data-state="up"]').waitFor();
      await nodeRow(page).getByText('this node', { exact: true }).waitFor();
      expect(await nodeRow(page).locator('.node-state').textContent()).toBe('up');
      expect(await nodeRow(page).locator('.node-load').textContent()).toBe(`0 / ${CAPACITY}`);
      await nodeRow(page).getByText(/^heartbeat \d+s ago$/).waitFor();

      await page.getByLabel('New instance').fill(ID);
      await page.getByRole('button', { name: 'Create' }).click();
      await card(page, ID, '[data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
      // The card names the node holding the lease, as the API says; the panel counts it.
      await cardNode(page, ID).getByText(NODE, { exact: true }).waitFor({ timeout: MOVE_MS });
      expect((await call('GET', `/api/instance/${ID}/details`)).json.instance.node).toBe(NODE);
      await nodeRow(page).locator('.node-load').getByText(`1 / ${CAPACITY}`, { exact: true }).waitFor({ timeout: MOVE_MS });
      expect((await call('GET', '/api/nodes')).json.nodes).toMatchObject([{ id: NODE, state: 'up', load: 1, capacity: CAPACITY, self: true }]);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-nodes.png'), fullPage: true });
      // Every value drawn is a value: no "null" or "undefined" from a field left out.
      expect(await page.locator('#nodes').textContent()).not.toMatch(/null|undefined|NaN/);

      // Drain asks first: nothing is sent until confirmed.
      await nodeRow(page).getByRole('button', { name: 'Drain', exact: true }).click();
      await nodeRow(page).getByText(/No other node takes instances/).waitFor();
      expect(actions).toEqual([]);
      expect((await call('GET', '/api/nodes')).json.nodes[0].state).toBe('up');
      // The confirmation fits a phone-width screen.
      await page.setViewportSize(PHONE);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await page.setViewportSize(DESKTOP);

      await nodeRow(page).getByRole('button', { name: 'Yes, drain' }).click();
      await nodeRow(page, '[data-state="draining"]').waitFor({ timeout: MOVE_MS });
      await page.locator('#nodes').getByText(`Drain of ${NODE} started: 1 instance(s) to hand over`).waitFor();
      expect(actions).toEqual([`/api/nodes/${NODE}/drain`]);
      expect((await call('GET', '/api/nodes')).json.nodes[0].state).toBe('draining');
      expect(await nodeRow(page).locator('.node-state').textContent()).toBe('draining');
      // Handed over with no other node to take it: unowned, its worker stopped; the card says so.
      await cardNode(page, ID).waitFor({ state: 'detached', timeout: MOVE_MS });
      await nodeRow(page).locator('.node-load').getByText(`0 / ${CAPACITY}`, { exact: true }).waitFor({ timeout: MOVE_MS });
      const drained = (await call('GET', `/api/instance/${ID}/details`)).json.instance;
      expect(drained).toMatchObject({ node: null, worker: null, enabled: true });
      await card(page, ID, '[data-status="DISCONNECTED"]').waitFor({ timeout: MOVE_MS });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-nodes-draining.png'), fullPage: true });

      await nodeRow(page).getByRole('button', { name: 'Resume' }).click();
      await nodeRow(page, '[data-state="up"]').waitFor({ timeout: MOVE_MS });
      expect(actions).toEqual([`/api/nodes/${NODE}/drain`, `/api/nodes/${NODE}/resume`]);
      expect((await call('GET', '/api/nodes')).json.nodes[0].state).toBe('up');
      // Claimed again: the card names the node once more, and the worker starts again.
      await cardNode(page, ID).getByText(NODE, { exact: true }).waitFor({ timeout: MOVE_MS });
      await nodeRow(page).locator('.node-load').getByText(`1 / ${CAPACITY}`, { exact: true }).waitFor({ timeout: MOVE_MS });
      await card(page, ID, '[data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
      expect((await call('GET', `/api/instance/${ID}/details`)).json.instance.node).toBe(NODE);
      expect(await nodeRow(page).getByRole('button', { name: 'Drain', exact: true }).isVisible()).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-nodes-last.png'), fullPage: true }).catch(() => undefined);
      await page.close();
    }
  });

  it('a second node joins; draining the first moves the instance there, and the card names it', async () => {
    second = await startNode(OTHER);
    const { page, problems } = await openDashboard(base, key);
    try {
      await card(page, ID, '[data-status="QR_REQUIRED"]').waitFor({ timeout: WORKER_MS });
      // Both nodes, "this node" on the one the page talks to only; the newcomer takes nothing from a healthy node.
      await nodeRow(page, '[data-state="up"]', OTHER).waitFor({ timeout: MOVE_MS });
      await page.locator('#nodes').getByText('2 of 2 taking instances').waitFor();
      expect(await nodeRow(page, '', OTHER).getByText('this node').count()).toBe(0);
      expect(await nodeRow(page).getByText('this node').count()).toBe(1);
      expect(await nodeRow(page, '', OTHER).locator('.node-load').textContent()).toBe(`0 / ${CAPACITY}`);
      expect(await cardNode(page, ID).textContent()).toBe(NODE);

      await nodeRow(page).getByRole('button', { name: 'Drain', exact: true }).click();
      await nodeRow(page).getByText(`Drain ${NODE}? Each of its 1 instance(s) is stopped and handed over to another node.`, { exact: true }).waitFor();
      await nodeRow(page).getByRole('button', { name: 'Yes, drain' }).click();
      // Claimed by the other node, which told this one nothing: the card follows the node list.
      await cardNode(page, ID).getByText(OTHER, { exact: true }).waitFor({ timeout: MOVE_MS });
      expect((await call('GET', `/api/instance/${ID}/details`)).json.instance.node).toBe(OTHER);
      await nodeRow(page, '[data-state="draining"]').locator('.node-load').getByText(`0 / ${CAPACITY}`, { exact: true }).waitFor({ timeout: MOVE_MS });
      await nodeRow(page, '', OTHER).locator('.node-load').getByText(`1 / ${CAPACITY}`, { exact: true }).waitFor({ timeout: MOVE_MS });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-nodes-moved.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('CLUSTER=off: one line for this supervisor with its load, no drain', async () => {
    off = await startStandInApi({ overrides: { MAX_INSTANCES: '9' } });
    const nodeId = off.fleet.nodeId;
    const { page, problems } = await openDashboard(off.api.base, off.api.key);
    try {
      const line = page.locator('#nodes[data-cluster="off"]');
      await line.getByText('CLUSTER=off: this supervisor runs every instance').waitFor();
      expect(await line.locator('.node-name').textContent()).toBe(nodeId);
      expect(await line.locator('.node-load').textContent()).toBe('0 / 9 instances');
      expect(await page.locator('#nodes li.node').count()).toBe(0);
      expect(await page.locator('#nodes').getByRole('button').count()).toBe(0);
      expect(await page.locator('#nodes').textContent()).not.toMatch(/null|undefined|NaN/);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
