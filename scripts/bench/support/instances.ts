import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpcChannel } from '../../../lib/ipc/index.js';
import { sleep, withTimeout } from '../../../lib/timeout.js';
import { WorkerHandle } from '../../../src/worker/handle.js';
import type { SpareWorker } from '../../../src/worker/spare-worker.js';
import { WORKER_EVENTS, WorkerCommand, WorkerEvent, type WorkerInit } from '../../../src/worker/protocol.js';
import { EventLog } from '../../../tests/support/workers.js';
import type { WorkerUser } from '../../../src/worker/worker-user.js';
import type { PlainClientInit } from './plain-client.js';

const here = fileURLToPath(import.meta.url);
const EXT = here.endsWith('.ts') ? '.ts' : '.js';
export const PLAIN_CLIENT_ENTRY = join(dirname(here), `plain-client${EXT}`);

const MIB = 1024 * 1024;
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const PAGE_CALL_TIMEOUT_MS = 15_000;
const HEAP_POLL_MS = 100;

/** One WhatsApp client under measurement, whichever way it is hosted. */
export interface BenchInstance {
  /** Every event the client reported, with its arrival time, from the fork on. */
  readonly log: EventLog;
  /** The Node process hosting the client. */
  readonly nodePid: number | null;
  /** Root of the Chromium tree; known once the browser has launched. */
  readonly browserPid: number | null;
  /** The fake phone scans the QR. */
  scan(): Promise<void>;
  /** Resolves once the page holds `mb` more MiB of JS heap. */
  allocMb(mb: number): Promise<void>;
  /** Destroys the client and ends its processes, politely first. Never throws. */
  stop(): Promise<void>;
}

export type Host =
  /**
   * wa-fleet's worker, forked by WorkerHandle as the fleet does: BROWSER_SANDBOX on or off, as
   * `user` when the bench is root; `entry`: the built worker (absent: the one beside handle.ts).
   */
  | { kind: 'worker'; sandbox: boolean; user: WorkerUser | null; entry?: string }
  /** A plain whatsapp-web.js Client in a plainly forked Node process; `entry`: a compiled one (absent: plain-client beside this file). */
  | { kind: 'plain'; chromiumArgs: readonly string[]; entry?: string };

/** The tsx loader for an entry that is TypeScript; none for JavaScript. */
const loaderFor = (entry: string) => (entry.endsWith('.ts') ? ['--import', 'tsx'] : []);

export interface InstanceSpec {
  host: Host;
  sessionRoot: string;
  instanceId: string;
  chromePath: string;
  /** A worker host takes this spare when it has one ready (as the fleet's launcher does), and asks for the next once started. */
  spare?: SpareWorker | null;
}

/** Starts the client; resolves when initialize() has returned. Events seen meanwhile are in `log`. */
export function startInstance(spec: InstanceSpec, log: EventLog): Promise<BenchInstance> {
  return spec.host.kind === 'worker' ? WorkerInstance.start(spec, spec.host, log) : PlainInstance.start(spec, spec.host, log);
}

function killGroup(pgid: number | null | undefined): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
}

class WorkerInstance implements BenchInstance {
  private constructor(
    private readonly handle: WorkerHandle,
    readonly log: EventLog,
  ) {}

  static async start(spec: InstanceSpec, host: Extract<Host, { kind: 'worker' }>, log: EventLog): Promise<WorkerInstance> {
    const init: WorkerInit = {
      instanceId: spec.instanceId,
      sessionRoot: spec.sessionRoot,
      chromePath: spec.chromePath,
      cachePath: join(spec.sessionRoot, '.cache'),
      authTimeoutMs: START_TIMEOUT_MS,
      fakeWeb: true,
      browserSandbox: host.sandbox,
    };
    const options = { init, startTimeoutMs: START_TIMEOUT_MS, onEvent: log.push, user: host.user, ...(host.entry ? { entry: host.entry } : {}) };
    const taken = spec.spare?.take() ?? null;
    try {
      const handle = taken ? await taken.init(options, START_TIMEOUT_MS) : await WorkerHandle.start(options);
      return new WorkerInstance(handle, log);
    } finally {
      spec.spare?.fill();
    }
  }

  get nodePid(): number | null {
    return this.handle.pid;
  }

  get browserPid(): number | null {
    return this.handle.browserPid;
  }

  private simulate(action: string, args: unknown[]): Promise<unknown> {
    return this.handle.demo(action, args, PAGE_CALL_TIMEOUT_MS);
  }

  private async pageHeapUsed(): Promise<number> {
    const deep = await this.handle.deep(PAGE_CALL_TIMEOUT_MS);
    return deep.jsHeapUsedBytes ?? 0;
  }

  async scan(): Promise<void> {
    await this.simulate('scan', []);
  }

  // The worker runs a simulated action on the page's next tick and answers at once (so a freeze
  // cannot hang it): the page's heap says when the allocation is done. The bar is half the
  // allocation above the heap before it, because a collection during the allocation may free
  // the garbage counted in that heap (about 5 MiB on the fake page).
  async allocMb(mb: number): Promise<void> {
    const target = (await this.pageHeapUsed()) + (mb * MIB) / 2;
    await this.simulate('allocMb', [mb]);
    const deadline = Date.now() + PAGE_CALL_TIMEOUT_MS;
    while ((await this.pageHeapUsed()) < target) {
      if (Date.now() > deadline) throw new Error(`the page did not grow by ${mb} MiB within ${PAGE_CALL_TIMEOUT_MS} ms`);
      await sleep(HEAP_POLL_MS);
    }
  }

  async stop(): Promise<void> {
    await this.handle.stop(STOP_TIMEOUT_MS);
  }
}

class PlainInstance implements BenchInstance {
  private browserPidValue: number | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly channel: IpcChannel<WorkerCommand, WorkerEvent>,
    readonly log: EventLog,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', () => {
        channel.close();
        resolve();
      });
    });
    for (const event of WORKER_EVENTS) channel.on(event, (payload) => log.push(event, payload));
    channel.on(WorkerEvent.BROWSER_LAUNCHED, (payload) => {
      this.browserPidValue = (payload as { pid: number }).pid;
    });
  }

  // No Node flags and no pipe: the way an application runs the library. Detached, so that the
  // bench can kill the client's group, and a Ctrl+C in the terminal reaches the bench only.
  static async start(spec: InstanceSpec, host: Extract<Host, { kind: 'plain' }>, log: EventLog): Promise<PlainInstance> {
    const { chromiumArgs } = host;
    const entry = host.entry ?? PLAIN_CLIENT_ENTRY;
    const proc = fork(entry, [], {
      detached: true,
      execArgv: loaderFor(entry),
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const channel = new IpcChannel<WorkerCommand, WorkerEvent>(proc, { receives: WORKER_EVENTS });
    const instance = new PlainInstance(proc, channel, log);
    const died = instance.exited.then(() => {
      throw new Error(`plain client ${spec.instanceId} exited during its start`);
    });
    try {
      await Promise.race([withTimeout(log.waitFor(WorkerEvent.HELLO, START_TIMEOUT_MS), START_TIMEOUT_MS, 'plain client hello'), died]);
      const init: PlainClientInit = { ...spec, chromiumArgs: [...chromiumArgs] };
      await Promise.race([channel.request(WorkerCommand.INIT, init, START_TIMEOUT_MS), died]);
      return instance;
    } catch (err) {
      instance.kill();
      await instance.exited;
      throw err;
    }
  }

  get nodePid(): number | null {
    return this.proc.pid ?? null;
  }

  get browserPid(): number | null {
    return this.browserPidValue;
  }

  private async simulate(action: string, args: unknown[]): Promise<void> {
    await this.channel.request(WorkerCommand.SIMULATE, { action, args, timeoutMs: PAGE_CALL_TIMEOUT_MS }, PAGE_CALL_TIMEOUT_MS + 1_000);
  }

  scan(): Promise<void> {
    return this.simulate('scan', []);
  }

  /** The plain client's simulate awaits the page call, so the memory is held when it answers. */
  allocMb(mb: number): Promise<void> {
    return this.simulate('allocMb', [mb]);
  }

  async stop(): Promise<void> {
    if (this.channel.closed) return this.kill();
    await this.channel.request(WorkerCommand.SHUTDOWN, { timeoutMs: STOP_TIMEOUT_MS }, STOP_TIMEOUT_MS + 1_000).catch(() => undefined);
    await withTimeout(this.exited, 2_000, 'plain client exit').catch(() => undefined);
    this.kill();
  }

  // Without `pipe`, Chromium outlives a killed Node process: its group goes too.
  private kill(): void {
    killGroup(this.browserPidValue);
    killGroup(this.proc.pid);
  }
}
