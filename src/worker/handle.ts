import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError, coerceError } from '../../lib/errors.js';
import { IpcChannel } from '../../lib/ipc/index.js';
import { withTimeout } from '../../lib/timeout.js';
import { WORKER_EVENTS, WorkerCommand, WorkerEvent, type WorkerInit } from './protocol.js';

const here = fileURLToPath(import.meta.url);
/** Running from TypeScript sources (tests) the worker needs the tsx loader; built, it is plain JS. */
const FROM_SOURCE = here.endsWith('.ts');
export const WORKER_ENTRY = join(dirname(here), FROM_SOURCE ? 'main.ts' : 'main.js');

/**
 * Node flags of a worker. `--expose-gc` lets the memory loop force a collection before it calls
 * something a leak. The small semi-space trims the young generation a worker barely uses.
 */
const WORKER_NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=1'];

/** After SIGTERM, how long the worker's group has before SIGKILL. */
const TERM_GRACE_MS = 1_500;

export class WorkerStartError extends CodedError {
  constructor(message: string, cause?: unknown) {
    super('WORKER_START_FAILED', message, { cause });
  }
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerHandleOptions {
  init: WorkerInit;
  /** Handshake budget: hello + init answered within it, or the worker is killed. */
  startTimeoutMs: number;
  /** Receives every event from the worker, from the first one on (a QR may come before init is answered). */
  onEvent?: (event: WorkerEvent, payload: unknown) => void;
  /** Another program speaking the same protocol (tests use light stand-ins). */
  entry?: string;
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
export class WorkerHandle {
  readonly exited: Promise<WorkerExit>;
  private browserPidValue: number | null = null;
  private exitInfo: WorkerExit | null = null;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly channel: IpcChannel<WorkerCommand, WorkerEvent>,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        channel.close();
        resolve(this.exitInfo);
      });
    });
    channel.on(WorkerEvent.BROWSER_LAUNCHED, (p) => {
      this.browserPidValue = (p as { pid?: number | null } | undefined)?.pid ?? null;
    });
  }

  /** Forks a worker and completes the handshake; a worker that fails it is killed, never returned. */
  static async start(options: WorkerHandleOptions): Promise<WorkerHandle> {
    const entry = options.entry ?? WORKER_ENTRY;
    const proc = fork(entry, [], {
      detached: true,
      execArgv: [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), ...WORKER_NODE_FLAGS],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const channel = new IpcChannel<WorkerCommand, WorkerEvent>(proc, { receives: WORKER_EVENTS });
    const handle = new WorkerHandle(proc, channel);
    const { onEvent } = options;
    if (onEvent) for (const event of WORKER_EVENTS) channel.on(event, (payload) => onEvent(event, payload));
    const started = Date.now();
    try {
      const hello = new Promise<void>((resolve) => {
        const off = channel.on(WorkerEvent.HELLO, () => {
          off();
          resolve();
        });
      });
      const died = handle.exited.then((e) => {
        throw new WorkerStartError(`worker exited during its start (code ${e.code}, signal ${e.signal})`);
      });
      await Promise.race([withTimeout(hello, options.startTimeoutMs, 'worker hello'), died]);
      const left = Math.max(1, options.startTimeoutMs - (Date.now() - started));
      await Promise.race([channel.request(WorkerCommand.INIT, options.init, left), died]);
      return handle;
    } catch (err) {
      handle.kill();
      await handle.exited;
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

  /** Listens for a worker event; returns the unsubscribe function. */
  on(event: WorkerEvent, listener: (payload: unknown) => void): () => void {
    return this.channel.on(event, listener);
  }

  request<R>(command: WorkerCommand, payload: unknown, timeoutMs: number): Promise<R> {
    return this.channel.request<R>(command, payload, timeoutMs);
  }

  /**
   * Polite, then firm: ask the worker to destroy its client and exit within `timeoutMs`; if it has
   * not, SIGTERM its group; after a short grace, SIGKILL the worker's and the browser's groups.
   */
  async stop(timeoutMs: number): Promise<WorkerExit> {
    if (!this.alive) return this.exited;
    const deadline = Date.now() + timeoutMs;
    await this.request(WorkerCommand.SHUTDOWN, { timeoutMs: Math.max(1, timeoutMs - 500) }, timeoutMs).catch(() => undefined);
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
