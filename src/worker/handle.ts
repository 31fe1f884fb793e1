import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { coerceError } from '../../lib/errors.js';
import { IpcChannel } from '../../lib/ipc/index.js';
import { descendantsOf } from '../../lib/proc-memory.js';
import { withTimeout } from '../../lib/timeout.js';
import { AppError } from '../errors/index.js';
import { browserHome, workerEnvironment } from './environment.js';
import { describeIssue, EVENT_SCHEMAS, LIMITS, REPLY_SCHEMAS } from './messages.js';
import {
  WORKER_EVENTS,
  WORKER_REQUESTS,
  WorkerCommand,
  WorkerEvent,
  type WorkerRequest,
  type DeepResult,
  type FindRequest,
  type FindResult,
  type MediaPayload,
  type PingResult,
  type SendRequest,
  type SendResult,
  type WorkerInit,
} from './protocol.js';
import type { SessionStoreBinding, SessionStoreHost } from './session-store-host.js';
import { prepareProfile } from './worker-storage.js';
import type { WorkerUser } from './worker-user.js';

const here = fileURLToPath(import.meta.url);
/** Running from TypeScript sources (tests) the worker needs the tsx loader; built, it is plain JS. */
const FROM_SOURCE = here.endsWith('.ts');
export const WORKER_ENTRY = join(dirname(here), FROM_SOURCE ? 'main.ts' : 'main.js');

/**
 * Node flags of a worker. `--expose-gc` lets the memory loop force a collection before it calls
 * something a leak. The rest trade speed the worker does not need for memory it pays once per
 * instance (its JavaScript relays messages between the supervisor and the browser; the browser
 * does the work): a small semi-space trims the young generation it barely uses; no optimising
 * compiler, lazier compilation and size-first heuristics take ~6 MiB off a worker with the
 * library loaded (measured with bench:footprint). Not `--lite-mode` or `--jitless`: they remove
 * WebAssembly, and with it Node's fetch.
 */
const WORKER_NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=1', '--optimize-for-size', '--max-lazy', '--no-opt'];

/** After SIGTERM, how long the worker's group has before SIGKILL. */
const TERM_GRACE_MS = 1_500;

/** Extra time an IPC request gets over the worker's own timeout, so the worker's answer (even its timeout error) arrives. */
const IPC_MARGIN_MS = 1_000;
/** A lease word (or a confirmation) needs no answer to matter; the answer only tells the channel the request is done. */
const LEASE_ANSWER_MS = 2_000;

export class WorkerStartError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('WORKER_START_FAILED', message, { cause });
  }
}

/** What the fleet, the checks and the API may ask of a worker: methods, never protocol messages. */
export interface WorkerClient {
  readonly pid: number | null;
  readonly browserPid: number | null;
  readonly alive: boolean;
  readonly exited: Promise<WorkerExit>;
  ping(timeoutMs: number): Promise<PingResult>;
  deep(timeoutMs: number): Promise<DeepResult>;
  /** Forced GC in the worker and the page; the page's heap after it. */
  gc(timeoutMs: number): Promise<{ jsHeapUsedBytes: number | null; workerHeapUsedBytes?: number | undefined }>;
  pairingCode(phone: string, timeoutMs: number): Promise<string>;
  logout(timeoutMs: number): Promise<void>;
  /** Destroy and initialize the client again in place; `destroyTimeoutMs` for the destroy, `timeoutMs` in all. */
  restart(destroyTimeoutMs: number, timeoutMs: number): Promise<void>;
  /** Demo mode: an action on the fake WhatsApp Web (scan, logout, freeze …), fired and forgotten. */
  demo(action: string, args: unknown[], timeoutMs: number): Promise<unknown>;
  /** Demo mode: a `window.__fake` call whose (JSON) result is the answer: sent(), receive(…), ack(…). */
  demoQuery(action: string, args: unknown[], timeoutMs: number): Promise<unknown>;
  /**
   * Sends one message under `req.waId`. SEND_REJECTED: WhatsApp Web refused it, nothing was sent.
   * Any other failure (TIMEOUT, IPC_*, a library error): it may or may not have been sent; ask findMessage.
   */
  sendMessage(req: SendRequest, timeoutMs: number): Promise<SendResult>;
  /** Whether WhatsApp Web holds `true_<chatId>_<waId>`. Rejects when the page cannot tell. */
  findMessage(req: FindRequest, timeoutMs: number): Promise<FindResult>;
  /** The media of a message (serialized id); MEDIA_NOT_AVAILABLE when it has none the session can download. */
  downloadMedia(messageId: string, timeoutMs: number): Promise<MediaPayload>;
  /** These reported messages are committed (fire and forget; a stand-in may leave it out). */
  inboundRecorded?(ids: readonly string[]): void;
  /** SESSION_STORE=mysql: back the linked session up now; true when stored (a stand-in may leave it out). */
  backupSession?(timeoutMs: number): Promise<boolean>;
  /** CLUSTER=on: the lease is good for `validForMs` more (fire and forget; a stand-in may leave it out). */
  lease?(validForMs: number): void;
  stop(timeoutMs: number): Promise<WorkerExit>;
  kill(): void;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Where a worker's checked events (and its refused ones) go. */
export type WorkerListener = Pick<WorkerHandleOptions, 'onEvent' | 'onInvalid'>;

export interface WorkerHandleOptions {
  init: WorkerInit;
  /** Handshake budget: hello + init answered within it, or the worker is killed. */
  startTimeoutMs: number;
  /** Receives every checked event from the worker, from the first one on (a QR may come before init is answered). */
  onEvent?: (event: WorkerEvent, payload: unknown) => void;
  /** A message that failed its check at the boundary: counted against the instance, never acted on. */
  onInvalid?: (event: WorkerEvent, problem: string) => void;
  /** Another program speaking the same protocol (tests use light stand-ins). */
  entry?: string;
  /** Run the worker (and so its browser) as this user; null or absent: the supervisor's own user. */
  user?: WorkerUser | null;
  /**
   * SESSION_STORE=mysql: answers the worker's session requests, for its own instance only. Absent:
   * they are refused (IPC_NO_HANDLER), as a worker with `init.sessionBackup` unset never sends them.
   */
  sessionStore?: SessionStoreHost | null;
  /** The handle exists (forked, before its handshake): for who must reach a worker that is still starting (the lease). */
  onCreated?: (handle: WorkerHandle) => void;
}

/** The fork() options that make a worker another user's process (none: the supervisor's own user). */
type Identity = { uid?: number; gid?: number; env: NodeJS.ProcessEnv };

/** The instance's profile, made the worker user's before its worker may use it. */
function profileFor(user: WorkerUser, init: WorkerInit): string {
  try {
    return prepareProfile(init.sessionRoot, init.instanceId, user);
  } catch (err) {
    throw new WorkerStartError(`the profile could not be prepared for ${user.name}: ${coerceError(err).message}`, err);
  }
}

/**
 * A worker as `user` (none: the supervisor's own user) with HOME and the XDG folders under `home`.
 * A spare's `home` belongs to no instance; its browser gets the instance's HOME anyway, as the
 * driver passes it to Chromium's environment.
 */
export function workerIdentity(user: WorkerUser | null | undefined, home: string): Identity {
  if (!user) return { env: workerEnvironment(process.env) };
  return { uid: user.uid, gid: user.gid, env: workerEnvironment(process.env, { name: user.name, home }) };
}

/** An instance's worker: the user's process, its profile ready for that user, HOME inside it. */
function identityOf(user: WorkerUser | null | undefined, init: WorkerInit): Identity {
  return workerIdentity(user, user ? browserHome(profileFor(user, init)) : '');
}

/** The fields of a refused READY that pass on their own; the rest become null. */
function salvageReady(payload: unknown): { wid: string | null; pushname: string | null } {
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const keep = (value: unknown, max: number) => (typeof value === 'string' && value.length <= max ? value : null);
  return { wid: keep(p.wid, LIMITS.wid), pushname: keep(p.pushname, LIMITS.pushName) };
}

function killGroup(pgid: number | null | undefined, signal: NodeJS.Signals): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    /* the group is gone */
  }
}

/**
 * The supervisor's side of one worker process. The worker is forked as the leader of its own
 * process group, and puppeteer starts Chromium as the leader of another: stop() and kill() signal
 * both groups, so nothing of the instance survives them.
 */
export class WorkerHandle implements WorkerClient {
  readonly exited: Promise<WorkerExit>;
  private browserPidValue: number | null = null;
  private exitInfo: WorkerExit | null = null;

  /** Its hello (everything loaded), listened for from the fork on: a spare says it long before anyone asks. */
  private readonly helloSeen: Promise<void>;
  /** The instance's session store answers, bound by `init`. */
  private sessions: SessionStoreBinding | null = null;
  /** Who hears its events: nobody until `init` (a spare belongs to no instance). */
  private listener: WorkerHandleOptions | null = null;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly channel: IpcChannel<WorkerCommand, WorkerEvent | WorkerRequest>,
    /** The instance whose profile the fork prepared; null for a spare, whose `init` prepares it. */
    private readonly forkedFor: string | null,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        channel.close();
        this.sessions?.close();
        resolve(this.exitInfo);
      });
    });
    this.helloSeen = new Promise<void>((resolve) => {
      const off = channel.on(WorkerEvent.HELLO, () => {
        off();
        resolve();
      });
    });
    for (const event of WORKER_EVENTS) channel.on(event, (payload) => this.listener && this.receive(event, payload, this.listener));
  }

  /**
   * The browser's pid, once checked: kill() signals its group, so a pid that is not the worker's
   * own descendant (a confused or hostile worker naming another process) is never believed.
   */
  private adoptBrowser(pid: number | null): string | null {
    if (pid === null) return null;
    const own = this.proc.pid !== undefined && descendantsOf(this.proc.pid).includes(pid);
    if (!own) return `browser pid ${pid} is not a descendant of the worker ${this.proc.pid ?? '?'}`;
    this.browserPidValue = pid;
    return null;
  }

  /** Checks an event at the boundary; only a valid one reaches `onEvent`. */
  private receive(event: WorkerEvent, payload: unknown, options: WorkerHandleOptions): void {
    const parsed = (EVENT_SCHEMAS[event] as z.ZodType).safeParse(payload);
    let problem = parsed.success ? null : describeIssue(parsed.error);
    if (parsed.success && event === WorkerEvent.BROWSER_LAUNCHED) problem = this.adoptBrowser((parsed.data as { pid: number | null }).pid);
    if (problem !== null) {
      options.onInvalid?.(event, problem);
      // A phone that did connect is still connected: READY goes on without the fields it failed on.
      if (event === WorkerEvent.READY) options.onEvent?.(event, salvageReady(payload));
      return;
    }
    this.sessions?.observe(event, parsed.data);
    options.onEvent?.(event, parsed.data);
  }

  /** Forks a worker and completes the handshake; a worker that fails it is killed, never returned. */
  static async start(options: WorkerHandleOptions): Promise<WorkerHandle> {
    const started = Date.now();
    const handle = WorkerHandle.fork(identityOf(options.user, options.init), options.init.instanceId, options.entry);
    options.onCreated?.(handle);
    await handle.settle(handle.hello(options.startTimeoutMs));
    return handle.init(options, Math.max(1, options.startTimeoutMs - (Date.now() - started)));
  }

  /**
   * Forks a worker in a process group of its own, belonging to no instance until `init`: what a
   * spare is (the library loaded ahead, so a start pays only for the browser).
   */
  static fork(identity: Identity, forkedFor: string | null = null, entry = WORKER_ENTRY): WorkerHandle {
    const proc = fork(entry, [], {
      detached: true,
      execArgv: [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), ...WORKER_NODE_FLAGS],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...identity,
      serialization: 'json',
    });
    const channel = new IpcChannel<WorkerCommand, WorkerEvent | WorkerRequest>(proc, { receives: [...WORKER_EVENTS, ...WORKER_REQUESTS] });
    return new WorkerHandle(proc, channel, forkedFor);
  }

  /** Resolves once the worker has loaded and said hello; rejects when it dies first or takes longer than `timeoutMs`. */
  hello(timeoutMs: number): Promise<void> {
    return Promise.race([withTimeout(this.helloSeen, timeoutMs, 'worker hello'), this.diedDuringStart()]);
  }

  /**
   * Makes a worker that said hello the instance's: its events go to `options`, its session
   * requests to the instance's store, and it is initialised within `timeoutMs` (the browser
   * launched, the page loaded). A worker that fails is killed, never returned.
   */
  async init(options: WorkerHandleOptions, timeoutMs: number): Promise<WorkerHandle> {
    await this.settle(
      (async () => {
        if (this.forkedFor !== options.init.instanceId && options.user) profileFor(options.user, options.init);
        this.sessions = options.sessionStore?.bind(options.init.instanceId) ?? null;
        for (const [request, answer] of this.sessions?.handlers() ?? []) this.channel.handle(request, answer);
        this.listener = options;
        await Promise.race([this.channel.request(WorkerCommand.INIT, options.init, timeoutMs), this.diedDuringStart()]);
      })(),
    );
    return this;
  }

  private diedDuringStart(): Promise<never> {
    return this.exited.then((e) => {
      throw new WorkerStartError(`worker exited during its start (code ${e.code}, signal ${e.signal})`);
    });
  }

  /** A step of the start: on failure the worker is killed (and gone) before the error is thrown. */
  private async settle(step: Promise<unknown>): Promise<void> {
    try {
      await step;
    } catch (err) {
      this.kill();
      await this.exited;
      throw err instanceof WorkerStartError ? err : new WorkerStartError(`worker failed to start: ${coerceError(err).message}`, err);
    }
  }

  get pid(): number | null {
    return this.proc.pid ?? null;
  }

  get browserPid(): number | null {
    return this.browserPidValue;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Listens for a raw worker event (tests and benchmarks); returns the unsubscribe function. */
  on(event: WorkerEvent, listener: (payload: unknown) => void): () => void {
    return this.channel.on(event, listener);
  }

  private async ask<S extends z.ZodType>(command: WorkerCommand, payload: Record<string, unknown>, timeoutMs: number, schema: S): Promise<z.infer<S>> {
    const reply = await this.channel.request<unknown>(command, { ...payload, timeoutMs }, timeoutMs + IPC_MARGIN_MS);
    const parsed = schema.safeParse(reply);
    if (!parsed.success) throw new AppError('INTERNAL', `the worker's ${command} reply was refused (${describeIssue(parsed.error)})`);
    return parsed.data;
  }

  ping(timeoutMs: number): Promise<PingResult> {
    return this.ask(WorkerCommand.PING, {}, timeoutMs, REPLY_SCHEMAS.ping);
  }

  deep(timeoutMs: number): Promise<DeepResult> {
    return this.ask(WorkerCommand.DEEP, {}, timeoutMs, REPLY_SCHEMAS.deep);
  }

  gc(timeoutMs: number): Promise<{ jsHeapUsedBytes: number | null; workerHeapUsedBytes?: number | undefined }> {
    return this.ask(WorkerCommand.GC, {}, timeoutMs, REPLY_SCHEMAS.gc);
  }

  async pairingCode(phone: string, timeoutMs: number): Promise<string> {
    return (await this.ask(WorkerCommand.PAIRING_CODE, { phone }, timeoutMs, REPLY_SCHEMAS.pairingCode)).code;
  }

  async logout(timeoutMs: number): Promise<void> {
    await this.ask(WorkerCommand.LOGOUT, {}, timeoutMs, REPLY_SCHEMAS.any);
  }

  async restart(destroyTimeoutMs: number, timeoutMs: number): Promise<void> {
    await this.channel.request(WorkerCommand.RESTART, { timeoutMs: destroyTimeoutMs }, timeoutMs);
  }

  demo(action: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return this.ask(WorkerCommand.SIMULATE, { action, args }, timeoutMs, REPLY_SCHEMAS.any);
  }

  demoQuery(action: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return this.ask(WorkerCommand.DEMO_QUERY, { action, args }, timeoutMs, REPLY_SCHEMAS.any);
  }

  sendMessage(req: SendRequest, timeoutMs: number): Promise<SendResult> {
    return this.ask(WorkerCommand.SEND_MESSAGE, { ...req }, timeoutMs, REPLY_SCHEMAS.send);
  }

  findMessage(req: FindRequest, timeoutMs: number): Promise<FindResult> {
    return this.ask(WorkerCommand.FIND_MESSAGE, { chatId: req.chatId, waId: req.waId }, timeoutMs, REPLY_SCHEMAS.find);
  }

  downloadMedia(messageId: string, timeoutMs: number): Promise<MediaPayload> {
    return this.ask(WorkerCommand.DOWNLOAD_MEDIA, { messageId }, timeoutMs, REPLY_SCHEMAS.media);
  }

  async backupSession(timeoutMs: number): Promise<boolean> {
    const answer = await this.ask(WorkerCommand.BACKUP_SESSION, {}, timeoutMs, z.object({ saved: z.boolean() }));
    return answer.saved;
  }

  inboundRecorded(ids: readonly string[]): void {
    if (this.alive) void this.channel.request(WorkerCommand.INBOUND_RECORDED, { ids }, LEASE_ANSWER_MS).catch(() => undefined);
  }

  lease(validForMs: number): void {
    if (this.alive) void this.channel.request(WorkerCommand.LEASE, { validForMs }, LEASE_ANSWER_MS).catch(() => undefined);
  }

  /**
   * Polite, then firm: ask the worker to destroy its client and exit within `timeoutMs`; if it has
   * not, SIGTERM its group; after a short grace, SIGKILL the worker's and the browser's groups.
   */
  async stop(timeoutMs: number): Promise<WorkerExit> {
    if (!this.alive) {
      // A worker that died on its own (SIGKILL, OOM) left its browser behind, still writing to the profile.
      this.kill();
      return this.exited;
    }
    const deadline = Date.now() + timeoutMs;
    await this.channel.request(WorkerCommand.SHUTDOWN, { timeoutMs: Math.max(1, timeoutMs - 500) }, timeoutMs).catch(() => undefined);
    const exitedInTime = await withTimeout(this.exited, Math.max(1, deadline - Date.now()), 'worker exit').then(
      () => true,
      () => false,
    );
    if (!exitedInTime) {
      killGroup(this.pid, 'SIGTERM');
      await withTimeout(this.exited, TERM_GRACE_MS, 'worker exit after SIGTERM').catch(() => undefined);
    }
    this.kill();
    return this.exited;
  }

  /** SIGKILL of everything the instance runs: the worker's group and the browser's group. */
  kill(): void {
    killGroup(this.browserPidValue, 'SIGKILL');
    if (this.alive) killGroup(this.pid, 'SIGKILL');
  }
}
