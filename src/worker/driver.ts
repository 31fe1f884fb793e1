import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'puppeteer';
import type wwebjs from 'whatsapp-web.js';
import { coerceError } from '../../lib/errors.js';
import { withTimeout } from '../../lib/timeout.js';
import { chromiumArgs } from './chromium-args.js';
import { browserHome, homeEnvironment } from './environment.js';
import { WorkerEvent, type DeepResult, type FindRequest, type FindResult, type MediaPayload, type PingResult, type SendRequest, type SendResult, type WorkerInit } from './protocol.js';
import { AppError } from '../errors/index.js';
import { MessageDriver, type Report } from './message-driver.js';
import { adoptRemoteProfile } from './profile-layout.js';
import { InboundOutbox } from './inbound-outbox.js';
import { Client, LocalAuth } from './library.js';
import type { WorkerRemoteAuth } from './remote-auth.js';
import { profileDir, remoteProfileDir } from './session-path.js';
import type { AskSupervisor } from './session-store.js';
import { webSourceOptions } from './web-source.js';

type WaClient = InstanceType<typeof Client>;

// The library's typings declare the strategy hooks as properties; at run time they are methods.
interface AuthStrategyHooks {
  client: unknown;
  beforeBrowserInitialized(): Promise<void>;
  afterBrowserInitialized(): Promise<void>;
}
const LocalAuthBase = LocalAuth as unknown as new (options: { clientId: string; dataPath: string }) => AuthStrategyHooks;

export type { Report };

export class NotRunningError extends AppError {
  constructor() {
    super('WORKER_NOT_RUNNING', 'the WhatsApp client is not running');
  }
}

/**
 * LocalAuth that creates the profile owner-only (it holds the session keys) and tells the driver
 * the moment the browser exists, before initialize() has finished: a crash during the long first
 * load must be seen, and the browser pid is needed to measure and kill it.
 */
class WorkerAuth extends LocalAuthBase {
  constructor(
    private readonly init: WorkerInit,
    private readonly onBrowser: (browser: Browser, page: Page) => void,
  ) {
    super({ clientId: init.instanceId, dataPath: init.sessionRoot });
  }

  override async beforeBrowserInitialized(): Promise<void> {
    const profile = profileDir(this.init.sessionRoot, this.init.instanceId);
    mkdirSync(profile, { recursive: true, mode: 0o700 });
    // SESSION_STORE was mysql: the linked profile is in RemoteAuth's folder; it moves up (no new QR).
    adoptRemoteProfile(profile, remoteProfileDir(this.init.sessionRoot, this.init.instanceId));
    await super.beforeBrowserInitialized();
  }

  override async afterBrowserInitialized(): Promise<void> {
    await super.afterBrowserInitialized();
    const client = this.client as unknown as { pupBrowser: Browser; pupPage: Page };
    this.onBrowser(client.pupBrowser, client.pupPage);
  }
}

/**
 * Hosts one whatsapp-web.js Client: builds it, forwards its events as worker events, and answers
 * the supervisor's questions about it. Everything that touches the page has a timeout, because
 * a frozen page never answers.
 */
export class ClientDriver {
  private client: WaClient | null = null;
  private browser: Browser | null = null;
  private page: Page | null = null;
  private remoteAuth: WorkerRemoteAuth | null = null;
  /** Set while we close the browser ourselves, so that closing is not reported as a crash. */
  private closing = false;
  /** Sends, lookups, media and message events; it outlives a restart (its line of sends must too). */
  private readonly messages: MessageDriver;

  constructor(
    private readonly init: WorkerInit,
    private readonly report: Report,
    /** Requests to the supervisor: the session store's calls (SESSION_STORE=mysql). */
    private readonly ask: AskSupervisor | null = null,
  ) {
    this.messages = new MessageDriver(() => this.requirePage(), report, new InboundOutbox(profileDir(init.sessionRoot, init.instanceId)));
  }

  get browserPid(): number | null {
    return this.browser?.process()?.pid ?? null;
  }

  /** Builds the client and runs initialize(); resolves when the library has loaded the page. */
  async start(): Promise<void> {
    this.closing = false;
    const profile = profileDir(this.init.sessionRoot, this.init.instanceId);
    const client = new Client({
      authStrategy: await this.authStrategy(),
      puppeteer: {
        executablePath: this.init.chromePath,
        headless: true,
        pipe: true,
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        args: chromiumArgs(this.init.browserSandbox),
        // Chromium writes outside its profile too; never into the supervisor's home.
        env: { ...process.env, ...homeEnvironment(browserHome(profile)) },
      },
      authTimeoutMs: this.init.authTimeoutMs,
      qrMaxRetries: 0,
      takeoverOnConflict: false,
      ...webSourceOptions(this.init),
    });
    this.client = client;
    this.forwardClientEvents(client);
    this.messages.attach(client);
    await client.initialize();
    // What an earlier start reported and the supervisor never confirmed (it was killed first).
    this.messages.replayUnconfirmed();
  }

  /** LocalAuth on the profile folder; with SESSION_STORE=mysql, RemoteAuth backed up through the supervisor. */
  /** The supervisor committed these reported messages. */
  inboundRecorded(ids: readonly string[]): void {
    this.messages.confirmed(ids);
  }

  /** SESSION_STORE=mysql: a backup of the linked session now; false without RemoteAuth or when none was stored. */
  async backupNow(): Promise<boolean> {
    return this.remoteAuth ? this.remoteAuth.backupNow() : false;
  }

  private async authStrategy(): Promise<wwebjs.AuthStrategy> {
    const onBrowser = (browser: Browser, page: Page) => this.attachBrowser(browser, page);
    const backup = this.init.sessionBackup;
    if (!backup) return new WorkerAuth(this.init, onBrowser) as unknown as wwebjs.AuthStrategy;
    if (!this.ask) throw new Error('SESSION_STORE=mysql needs the channel to the supervisor');
    // Loaded here, not with the worker: RemoteAuth brings its zip libraries (see library.ts).
    const { WorkerRemoteAuth } = await import('./remote-auth.js');
    this.remoteAuth = new WorkerRemoteAuth({
      init: this.init,
      intervalMs: backup.intervalMs,
      firstDelayMs: backup.firstDelayMs,
      ask: this.ask,
      onBrowser,
      report: (r) => this.report(WorkerEvent.SESSION_BACKUP, r),
    });
    return this.remoteAuth as unknown as wwebjs.AuthStrategy;
  }

  private forwardClientEvents(client: WaClient): void {
    const r = this.report;
    client.on('qr', (qr: string) => r(WorkerEvent.QR, { qr }));
    client.on('authenticated', () => r(WorkerEvent.AUTHENTICATED));
    client.on('ready', () =>
      r(WorkerEvent.READY, { wid: client.info?.wid?._serialized ?? null, pushname: client.info?.pushname ?? null }),
    );
    client.on('change_state', (state: string) => r(WorkerEvent.CHANGE_STATE, { state }));
    client.on('disconnected', (reason: unknown) => r(WorkerEvent.DISCONNECTED, { reason: String(reason) }));
    client.on('auth_failure', (message: unknown) => r(WorkerEvent.AUTH_FAILURE, { message: String(message) }));
    client.on('loading_screen', (percent: unknown, message: unknown) => r(WorkerEvent.LOADING_SCREEN, { percent, message }));
    client.on('code', (code: string) => r(WorkerEvent.PAIRING_CODE, { code }));
  }

  private attachBrowser(browser: Browser, page: Page): void {
    this.browser = browser;
    this.page = page;
    this.report(WorkerEvent.BROWSER_LAUNCHED, { pid: this.browserPid });
    browser.on('disconnected', () => {
      if (!this.closing) this.report(WorkerEvent.BROWSER_DISCONNECTED);
    });
    page.on('close', () => {
      if (!this.closing) this.report(WorkerEvent.PAGE_CLOSED, { reason: 'closed' });
    });
    // puppeteer's 'error' on a page means the renderer crashed.
    page.on('error', () => {
      if (!this.closing) this.report(WorkerEvent.PAGE_CLOSED, { reason: 'crashed' });
    });
    page.on('pageerror', (err: unknown) => this.reportError('pageerror', err));
  }

  reportError(source: string, err: unknown): void {
    const e = coerceError(err);
    this.report(WorkerEvent.ERROR, { source, name: e.name, message: e.message, code: e.code });
  }

  private requirePage(): { client: WaClient; page: Page } {
    if (!this.client || !this.page || this.page.isClosed()) throw new NotRunningError();
    return { client: this.client, page: this.page };
  }

  /** The WhatsApp state as the page sees it, and how long the page took to say so. */
  async ping(timeoutMs: number): Promise<PingResult> {
    const { client } = this.requirePage();
    const started = performance.now();
    const state = (await withTimeout(client.getState(), timeoutMs, 'ping')) as string | null;
    return { state, latencyMs: Math.round(performance.now() - started) };
  }

  async deep(timeoutMs: number): Promise<DeepResult> {
    const { client, page } = this.requirePage();
    const probe = async (): Promise<DeepResult> => {
      // whatsapp-web.js 1.34 reads WhatsApp Web through window.require and its own AuthStore/WWebJS objects.
      const storePresent = await page.evaluate(() => {
        const w = window as unknown as { require?: (m: string) => unknown; AuthStore?: unknown; WWebJS?: unknown };
        return typeof w.require === 'function' && !!w.require('WAWebSocketModel') && !!w.AuthStore && !!w.WWebJS;
      });
      const socketState = (await client.getState()) as string | null;
      const metrics = await page.metrics();
      return {
        storePresent,
        socketState,
        jsHeapUsedBytes: metrics.JSHeapUsedSize ?? null,
        jsHeapTotalBytes: metrics.JSHeapTotalSize ?? null,
      };
    };
    return withTimeout(probe(), timeoutMs, 'deep check');
  }

  async pairingCode(phone: string, timeoutMs: number): Promise<string> {
    const { client } = this.requirePage();
    return withTimeout(client.requestPairingCode(phone, true), timeoutMs, 'pairing code');
  }

  /** Unlinks the phone: the library closes the browser and deletes the profile. */
  async logout(timeoutMs: number): Promise<void> {
    const { client } = this.requirePage();
    this.closing = true;
    await withTimeout(client.logout(), timeoutMs, 'logout');
    this.report(WorkerEvent.DISCONNECTED, { reason: 'LOGOUT' });
    this.forget();
  }

  /** Worker and page garbage collection; returns the page heap afterwards. */
  async gc(timeoutMs: number): Promise<{ workerHeapUsedBytes: number; jsHeapUsedBytes: number | null }> {
    (globalThis as { gc?: () => void }).gc?.();
    let jsHeapUsedBytes: number | null = null;
    if (this.page && !this.page.isClosed()) {
      const page = this.page;
      const collect = async () => {
        const cdp = await page.createCDPSession();
        try {
          await cdp.send('HeapProfiler.collectGarbage');
        } finally {
          await cdp.detach().catch(() => undefined);
        }
        return (await page.metrics()).JSHeapUsedSize ?? null;
      };
      jsHeapUsedBytes = await withTimeout(collect(), timeoutMs, 'page gc');
    }
    return { workerHeapUsedBytes: process.memoryUsage().heapUsed, jsHeapUsedBytes };
  }

  /** Demo/test mode: runs `window.__fake[action](...args)` on the next tick, so a freeze does not hang this call. */
  async simulate(action: string, args: unknown[], timeoutMs: number): Promise<void> {
    if (!this.init.fakeWeb) throw new Error('simulate is only available with the fake WhatsApp Web');
    const { page } = this.requirePage();
    const ok = await withTimeout(
      page.evaluate(
        (a: string, rest: unknown[]) => {
          const fake = (window as unknown as { __fake?: Record<string, (...x: unknown[]) => unknown> }).__fake;
          if (!fake || typeof fake[a] !== 'function') return false;
          setTimeout(() => fake[a]?.(...rest), 0);
          return true;
        },
        action,
        args,
      ),
      timeoutMs,
      `simulate ${action}`,
    );
    if (!ok) throw new Error(`the fake WhatsApp Web has no action "${action}"`);
  }

  /** Demo/test mode: awaits `window.__fake[action](...args)` and answers with its (JSON) result. */
  async demoQuery(action: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    if (!this.init.fakeWeb) throw new AppError('DEMO_MODE_OFF');
    const { page } = this.requirePage();
    const answer = await withTimeout(
      page.evaluate(
        async (a: string, rest: unknown[]) => {
          const fake = (window as unknown as { __fake?: Record<string, (...x: unknown[]) => unknown> }).__fake;
          if (!fake) return { state: 'loading' as const };
          if (typeof fake[a] !== 'function') return { state: 'unknown' as const };
          try {
            const value = await fake[a]!(...rest);
            return { state: 'ok' as const, value: value === undefined ? null : value };
          } catch (e) {
            return { state: 'refused' as const, message: String((e as Error)?.message ?? e) };
          }
        },
        action,
        args,
      ),
      timeoutMs,
      `demo query ${action}`,
    ).catch((err: unknown) => {
      // The page went away under the question (a restart, a crash), maybe after doing what it was
      // asked (an inbound message stored for delivery): not a refusal, an answer that was lost.
      if (/Target closed|Session closed|Execution context was destroyed|detached Frame/i.test(coerceError(err).message)) {
        throw new AppError('IPC_CLOSED', 'the page went away before it answered; it may have done what it was asked');
      }
      throw err;
    });
    // Still loading (WhatsApp Web's scripts have not run yet): like a worker not running yet.
    if (answer.state === 'loading') throw new NotRunningError();
    if (answer.state === 'unknown') throw new AppError('VALIDATION_FAILED', `the fake WhatsApp Web has no action "${action}"`);
    // The page refused what it was asked (a sender not on WhatsApp, an unknown message id): bad input.
    if (answer.state === 'refused') throw new AppError('VALIDATION_FAILED', `the fake WhatsApp Web refused ${action}: ${answer.message.slice(0, 300)}`);
    return answer.value;
  }

  sendMessage(req: SendRequest, timeoutMs: number): Promise<SendResult> {
    return this.messages.send(req, timeoutMs);
  }

  findMessage(req: FindRequest, timeoutMs: number): Promise<FindResult> {
    return this.messages.find(req, timeoutMs);
  }

  downloadMedia(messageId: string, timeoutMs: number): Promise<MediaPayload> {
    return this.messages.downloadMedia(messageId, timeoutMs);
  }

  /** destroy() within the time given; past it, the browser is killed. Never throws. */
  async destroy(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.closing = true;
    const pid = this.browserPid;
    try {
      await withTimeout(client.destroy(), timeoutMs, 'client destroy');
    } catch (err) {
      this.reportError('destroy', err);
      if (pid) killQuietly(pid);
    }
    this.forget();
  }

  async restart(timeoutMs: number): Promise<void> {
    await this.destroy(timeoutMs);
    await this.start();
  }

  private forget(): void {
    this.client?.removeAllListeners();
    this.client = null;
    this.browser = null;
    this.page = null;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
