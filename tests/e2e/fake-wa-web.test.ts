import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import wwebjs from 'whatsapp-web.js';
import type { Client as WaClient, ClientOptions } from 'whatsapp-web.js';
import { ClientEventLog, TEST_PUPPETEER } from '../support/fake-client.js';
import { processesLeftWithArg } from '../support/processes.js';
import { callFake, FAKE_WEB_VERSION, fakeClientOptions, type FakeWaConfig } from '../../src/demo/fake-web.js';

const { Client, LocalAuth } = wwebjs;

const ROOT = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'fake-wa-web-'));
const SESSIONS = join(ROOT, 'sessions');
const CACHE = join(ROOT, 'cache');

const RECORDED_EVENTS = ['qr', 'code', 'authenticated', 'auth_failure', 'ready', 'change_state', 'disconnected'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Started {
  client: WaClient;
  events: ClientEventLog;
  /** Settles when initialize() does; never rejects, so a failure is something to assert on. */
  initialized: Promise<{ ok: true } | { ok: false; error: unknown }>;
}

const started: WaClient[] = [];

function startClient(clientId: string, config: FakeWaConfig = {}, options: ClientOptions = {}): Started {
  const client = new Client({
    authStrategy: new LocalAuth({ clientId, dataPath: SESSIONS }),
    ...fakeClientOptions(CACHE, config),
    puppeteer: TEST_PUPPETEER,
    ...options,
  });
  started.push(client);
  const events = new ClientEventLog(client, RECORDED_EVENTS);
  const initialized = client.initialize().then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { client, events, initialized };
}

function page(client: WaClient) {
  if (!client.pupPage) throw new Error('the client has no page yet');
  return client.pupPage;
}

async function startReady(clientId: string, config: FakeWaConfig = {}): Promise<Started> {
  const run = startClient(clientId, config);
  await run.events.waitFor('qr');
  await callFake(page(run.client), 'scan');
  await run.events.waitFor('ready');
  return run;
}

/** Polls until the fake page answers, for scenarios in which the library never emits anything. */
async function waitForFakePage(client: WaClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = client.pupPage ? await callFake(client.pupPage, 'status').then(() => true, () => false) : false;
    if (answered) return;
    if (Date.now() > deadline) throw new Error('the fake page never answered');
    await sleep(100);
  }
}

/**
 * Waits until the library's injection into the current document is complete (its last step
 * subscribes to change:hasSynced): closing the browser while it runs makes the library's own
 * framenavigated handler reject unhandled with TargetCloseError.
 */
async function waitForInjection(client: WaClient, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await callFake(page(client), 'status')).listeners.hasSynced === 0) {
    if (Date.now() > deadline) throw new Error('the library never finished injecting');
    await sleep(50);
  }
}

/**
 * After disconnected (other than LOGOUT) the library calls destroy() itself without awaiting it.
 * A second browser.close() racing that one once gave an uncaught `read ECONNRESET` on the browser
 * pipe (puppeteer drops its pipe error listeners when the transport closes), so wait for the
 * library's own close instead of closing again.
 */
async function waitForSelfDestroy(client: WaClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (client.pupBrowser?.isConnected()) {
    if (Date.now() > deadline) throw new Error('the library did not close its browser after disconnected');
    await sleep(50);
  }
}

/** destroy(), and if that hangs, kill the browser's whole process group. */
async function shutdown(client: WaClient): Promise<void> {
  for (let i = 0; i < 100 && !client.pupBrowser; i++) await sleep(100);
  const browserProcess = client.pupBrowser?.process();
  const destroyed = await Promise.race([client.destroy().then(() => true, () => false), sleep(5_000).then(() => false)]);
  if (destroyed || !browserProcess?.pid || browserProcess.exitCode !== null) return;
  try {
    process.kill(-browserProcess.pid, 'SIGKILL');
  } catch {
    browserProcess.kill('SIGKILL');
  }
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(shutdown));
});

afterAll(async () => {
  expect(await processesLeftWithArg(ROOT)).toEqual([]);
});

// Generous limits: each client start is ~2 s alone, several times that when other suites share the 2 cores.
describe('fake WhatsApp Web driving the real whatsapp-web.js', { timeout: 90_000 }, () => {
  it('shows a QR on first start, reaches ready after scan, and restores the session without a QR', async () => {
    const first = startClient('restore');
    const [qr] = await first.events.waitFor('qr');
    expect(String(qr)).toMatch(/^2@[^,]+,[^,]+,[^,]+,[^,]+,CHROME$/);

    await callFake(page(first.client), 'scan');
    await first.events.waitFor('ready');
    expect(await callFake(page(first.client), 'status')).toMatchObject({ state: 'CONNECTED', paired: true });
    expect(first.events.names()).toEqual(['qr', 'authenticated', 'ready']);
    expect(await first.client.getWWebVersion()).toBe(FAKE_WEB_VERSION);
    expect(first.client.info.wid._serialized).toBe('15550001234@c.us');
    await shutdown(first.client);

    const second = startClient('restore');
    await second.events.waitFor('ready');
    expect(second.events.names()).toEqual(['authenticated', 'ready']);
    expect(await callFake(page(second.client), 'status')).toMatchObject({ boot: 2, paired: true, hasSynced: true });
  });

  it('keeps the pairing when the browser is SIGKILLed right after ready', async () => {
    const first = await startReady('killed');
    const browser = first.client.pupBrowser;
    const pid = browser?.process()?.pid;
    if (!browser || !pid) throw new Error('no browser process');
    const gone = new Promise((resolve) => browser.once('disconnected', resolve));
    process.kill(-pid, 'SIGKILL');
    await gone;

    const second = startClient('killed');
    await second.events.waitFor('ready');
    expect(second.events.names()).toEqual(['authenticated', 'ready']);
  });

  it('emits a new qr each time the QR rotates', async () => {
    const run = startClient('rotate');
    await run.events.waitFor('qr');
    await callFake(page(run.client), 'rotateQr');
    await run.events.waitFor('qr', { from: 1 });
    await callFake(page(run.client), 'rotateQr');
    await run.events.waitFor('qr', { from: 2 });
    const qrs = run.events.entries.filter((e) => e.name === 'qr').map((e) => String(e.args[0]));
    expect(qrs).toHaveLength(3);
    expect(new Set(qrs).size).toBe(3);
  });

  it('logout emits disconnected LOGOUT, shows a QR again, and the next start is unpaired', async () => {
    const run = await startReady('logout');
    await callFake(page(run.client), 'logout');
    expect(await run.events.waitFor('disconnected')).toEqual(['LOGOUT']);
    const loggedOutAt = run.events.names().indexOf('disconnected');
    await run.events.waitFor('qr', { from: loggedOutAt });
    await waitForInjection(run.client);
    await shutdown(run.client);

    const next = startClient('logout');
    await next.events.waitFor('qr');
    expect(await callFake(page(next.client), 'status')).toMatchObject({ paired: false, state: 'UNPAIRED' });
  });

  it('client.logout() closes the browser and removes the LocalAuth profile', async () => {
    const run = await startReady('client-logout');
    await run.client.logout();
    expect(run.client.pupBrowser?.isConnected()).toBe(false);
    expect(existsSync(join(SESSIONS, 'session-client-logout'))).toBe(false);
  });

  it('TIMEOUT is forwarded as change_state only, and CONNECTED brings it back', async () => {
    const run = startClient('timeout', { autoScanMs: 1 });
    await run.events.waitFor('ready');
    const readyAt = run.events.entries.length;
    await callFake(page(run.client), 'setState', 'TIMEOUT');
    expect(await run.events.waitFor('change_state', { from: readyAt })).toEqual(['TIMEOUT']);
    await callFake(page(run.client), 'setState', 'CONNECTED');
    await sleep(300);
    expect(run.events.names().slice(readyAt)).toEqual(['change_state', 'change_state']);
    expect(run.events.entries.slice(readyAt).map((e) => e.args[0])).toEqual(['TIMEOUT', 'CONNECTED']);
  });

  it('CONFLICT emits change_state then disconnected CONFLICT', async () => {
    const run = await startReady('conflict');
    await callFake(page(run.client), 'conflict');
    expect(await run.events.waitFor('disconnected')).toEqual(['CONFLICT']);
    expect(run.events.names().slice(-2)).toEqual(['change_state', 'disconnected']);
    await waitForSelfDestroy(run.client);
  });

  it('UNPAIRED emits disconnected UNPAIRED and the next start shows a QR', async () => {
    const run = await startReady('unpaired');
    await callFake(page(run.client), 'unpair');
    expect(await run.events.waitFor('disconnected')).toEqual(['UNPAIRED']);
    await waitForSelfDestroy(run.client);

    const next = startClient('unpaired');
    await next.events.waitFor('qr');
  });

  it('freeze() blocks the main thread so a page.evaluate does not answer within 2 s', async () => {
    const run = startClient('freeze');
    await run.events.waitFor('qr');
    await callFake(page(run.client), 'freeze');
    const probe = page(run.client).evaluate(() => 1);
    probe.catch(() => undefined); // settles only when the browser closes
    const outcome = await Promise.race([probe.then(() => 'answered'), sleep(2_000).then(() => 'timed out')]);
    expect(outcome).toBe('timed out');
  });

  it('crash() kills the renderer: the page emits error "Page crashed!"', async () => {
    const run = startClient('crash');
    await run.events.waitFor('qr');
    const crashed = new Promise<Error>((resolve) => page(run.client).once('error', resolve));
    await callFake(page(run.client), 'crash');
    const error = await Promise.race([crashed, sleep(30_000).then(() => new Error('no page error'))]);
    expect(error.message).toBe('Page crashed!');
  });

  it('hold OPENING keeps the library waiting with no qr or ready until resume()', async () => {
    const run = startClient('hold', { hold: 'OPENING' });
    await waitForFakePage(run.client);
    await sleep(3_000);
    expect(run.events.names()).toEqual([]);
    expect(await callFake(page(run.client), 'status')).toMatchObject({ state: 'OPENING', held: 'OPENING' });

    await callFake(page(run.client), 'resume');
    await run.events.waitFor('qr');
  });

  it('failInits: 1 makes the first boot reject with auth timeout and the next one succeed', async () => {
    const failing = startClient('fail-init', { failInits: 1 }, { authTimeoutMs: 3_000 });
    const outcome = await failing.initialized;
    expect(outcome).toEqual({ ok: false, error: 'auth timeout' });
    expect(failing.events.names()).toEqual([]);
    await shutdown(failing.client);

    const next = startClient('fail-init', { failInits: 1 }, { authTimeoutMs: 3_000 });
    await next.events.waitFor('qr');
    expect(await callFake(page(next.client), 'status')).toMatchObject({ boot: 2, failedInit: false });
  });

  it('failNextInits(1) called on a live page fails only the next start of that profile', async () => {
    const live = startClient('fail-next');
    await live.events.waitFor('qr');
    expect(await callFake(page(live.client), 'failNextInits', 1)).toMatchObject({ queuedBoots: 1 });
    await shutdown(live.client);

    const failing = startClient('fail-next', {}, { authTimeoutMs: 3_000 });
    expect(await failing.initialized).toEqual({ ok: false, error: 'auth timeout' });
    await shutdown(failing.client);

    const next = startClient('fail-next');
    await next.events.waitFor('qr');
    expect(await callFake(page(next.client), 'status')).toMatchObject({ boot: 3, failedInit: false, queuedBoots: 0 });
  });

  it('allocMb(100) grows the JS heap by about 100 MB and release() lets GC take it back', async () => {
    const run = startClient('heap');
    await run.events.waitFor('qr');
    const cdp = await page(run.client).createCDPSession();
    const heapMb = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      return ((await page(run.client).metrics()).JSHeapUsedSize ?? 0) / 2 ** 20;
    };
    const before = await heapMb();

    expect(await callFake(page(run.client), 'allocMb', 100)).toMatchObject({ heldMb: 100 });
    const grown = await heapMb();
    expect(grown - before).toBeGreaterThan(90);
    expect(grown - before).toBeLessThan(115);

    expect(await callFake(page(run.client), 'release')).toMatchObject({ heldMb: 0 });
    const released = await heapMb();
    expect(released - before).toBeLessThan(10);
  });

  it('pairing code: requestPairingCode returns 8 characters and entering it reaches ready', async () => {
    const run = startClient('pairing');
    await run.events.waitFor('qr');
    const code = await run.client.requestPairingCode('15557654321');
    expect(code).toMatch(/^[1-9A-Z]{8}$/);
    expect(await run.events.waitFor('code')).toEqual([code]);

    await callFake(page(run.client), 'enterPairingCode', code);
    await run.events.waitFor('ready');
    expect(run.client.info.wid._serialized).toBe('15557654321@c.us');
  });
});
