import { CodedError, coerceError } from '../../lib/errors.js';
import { sleep } from '../../lib/timeout.js';
import type { InstancesRepository, TransitionPatch } from '../db/instances-repository.js';
import { ConnectionStatus, Health, type Instance, type NewEvent } from '../domain/instance.js';
import { Category, type Logger } from '../logger/index.js';
import type { WorkerHandle } from '../worker/handle.js';
import { WorkerCommand, WorkerEvent } from '../worker/protocol.js';
import type { Notification } from '../webhooks/outbox.js';
import { SEVERITY, type FleetEventBus, type FleetEventMap, type FleetEventName } from './event-bus.js';
import { decideReconnect, isNoReconnectReason } from './reconnect-policy.js';
import { LifecycleEvent, nextStatus } from './state-machine.js';
import type { StatusWriter } from './status-writer.js';

/** Starts a worker for an instance; every worker event goes to `onEvent`, from the first one. */
export type WorkerLauncher = (instanceId: string, onEvent: (event: WorkerEvent, payload: unknown) => void) => Promise<WorkerHandle>;

export interface InstanceSettings {
  workerStopTimeoutMs: number;
  qrIdleTimeoutMs: number;
  reconnect: { baseMs: number; maxMs: number; jitterMs: number; maxAttempts: number };
}

export interface InstanceDeps {
  repo: InstancesRepository;
  writer: StatusWriter;
  bus: FleetEventBus;
  log: Logger;
  launch: WorkerLauncher;
  settings: InstanceSettings;
  random?: () => number;
  now?: () => Date;
}

/** Why the supervisor stopped a worker on purpose; never mistaken for a crash. */
export type StopReason = 'disabled' | 'qr_timeout' | 'shutdown' | 'restart' | 'removed' | 'no_reconnect';

/** What the instance is doing right now, as the supervisor sees it (the API's live view). */
export interface InstanceLive {
  status: ConnectionStatus;
  reason: string | null;
  statusChangedAt: Date;
  workerPid: number | null;
  browserPid: number | null;
  startedAt: Date | null;
  reconnectAttempts: number;
  nextReconnectAt: Date | null;
  /**
   * Waiting in the boot queue for its turn (REHYDRATE_CONCURRENCY, REHYDRATE_STAGGER_MS): like a
   * pending reconnect, it is neither stuck nor due for a start by anyone else.
   */
  bootQueued: boolean;
  /** A reason that forbids reconnecting (LOGOUT, BANNED, …): the instance waits for a human. */
  blockedBy: string | null;
  qr: { value: string; at: Date } | null;
  wid: string | null;
  pushName: string | null;
  recentErrors: Date[];
}

/** A bus event that is also a webhook notification. */
type Notice = { [K in FleetEventName]: { name: K; payload: FleetEventMap[K] } }[FleetEventName];

/** The webhook form of a bus event: severity from the event's default, dates as ISO strings. */
export function toNotification(notice: Notice, instanceId: string | null): Notification {
  const payload = JSON.parse(JSON.stringify(notice.payload)) as Record<string, unknown>;
  return { event: notice.name, severity: SEVERITY[notice.name], instanceId, payload, at: notice.payload.at };
}

const CRASH_EVENTS = new Set<WorkerEvent>([WorkerEvent.BROWSER_DISCONNECTED, WorkerEvent.PAGE_CLOSED]);
const ERROR_MEMORY = 50;

export class NoRunningWorkerError extends CodedError {
  constructor(id: string) {
    super('NO_RUNNING_WORKER', `instance "${id}" has no running worker to restart`);
  }
}

/** How often an abandoned start in progress is reaped again until it has given up. */
const REAP_AGAIN_MS = 500;

/**
 * One instance under supervision. It owns the instance's worker, follows its events, and is the
 * only place that changes the instance's status: `setStatus` checks the state machine, persists
 * through the status writer (row + event), emits on the bus and logs, in that order.
 */
export class InstanceHandle {
  private status: ConnectionStatus;
  private reason: string | null;
  private statusChangedAt: Date;
  private worker: WorkerHandle | null = null;
  private starting: Promise<void> | null = null;
  /** Bumped whenever a worker is started or dropped, so late events of an old worker are ignored. */
  private generation = 0;
  private stopping = false;
  private attempts: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private nextReconnectAt: Date | null = null;
  private bootQueued = false;
  private qrIdleTimer: NodeJS.Timeout | null = null;
  private qr: InstanceLive['qr'] = null;
  private startedAt: Date | null = null;
  private blockedBy: string | null;
  private wid: string | null;
  private pushName: string | null;
  private readonly errors: Date[] = [];
  /** The checks' latest verdict and why (the health loop sets them). */
  health: Health;
  healthReason: string | null;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(
    readonly id: string,
    row: Instance,
    private readonly deps: InstanceDeps,
  ) {
    this.status = row.connectionStatus;
    this.reason = row.statusReason;
    this.statusChangedAt = row.statusChangedAt;
    this.attempts = row.reconnectAttempts;
    this.wid = row.wid;
    this.pushName = row.pushName;
    this.health = row.health;
    this.healthReason = row.healthReason;
    // A refusal recorded before a restart still stands: it waits for a human, not for a reboot.
    const refused = row.connectionStatus === ConnectionStatus.AUTH_FAILURE || (row.statusReason !== null && isNoReconnectReason(row.statusReason));
    this.blockedBy = refused ? (row.statusReason ?? row.connectionStatus) : null;
    this.log = deps.log.child({ category: Category.SESSION, instanceId: id });
    this.now = deps.now ?? (() => new Date());
    deps.writer.track(id, row.connectionStatus);
  }

  get live(): InstanceLive {
    return {
      status: this.status,
      reason: this.reason,
      statusChangedAt: this.statusChangedAt,
      workerPid: this.worker?.pid ?? null,
      browserPid: this.worker?.browserPid ?? null,
      startedAt: this.startedAt,
      reconnectAttempts: this.attempts,
      nextReconnectAt: this.nextReconnectAt,
      bootQueued: this.bootQueued,
      blockedBy: this.blockedBy,
      qr: this.qr,
      wid: this.wid,
      pushName: this.pushName,
      recentErrors: [...this.errors],
    };
  }

  get hasWorker(): boolean {
    return this.worker !== null || this.starting !== null;
  }

  /** The running worker, once a start in progress has finished (a QR can arrive before it has). */
  async runningWorker(): Promise<WorkerHandle | null> {
    await this.starting;
    return this.worker;
  }

  /** The single status setter. Returns false when the state machine refuses the move. */
  private async setStatus(
    event: LifecycleEvent,
    reason: string | null,
    extra: {
      patch?: TransitionPatch;
      data?: Record<string, unknown>;
      severity?: NewEvent['severity'];
      category?: string;
      /** Announced with this change: queued as webhooks in its transaction, then emitted on the bus. */
      notify?: Notice[];
    } = {},
  ): Promise<boolean> {
    const move = nextStatus(this.status, event);
    if (!move.ok) {
      this.log.warn(`illegal transition rejected: ${this.status} on ${event} (${move.reason})`, { reason });
      return false;
    }
    if (!move.changed && reason === this.reason && !extra.patch) return true;
    const previous = this.status;
    const at = this.now();
    this.status = move.to;
    this.reason = reason;
    this.statusChangedAt = move.changed ? at : this.statusChangedAt;
    const category = extra.category ?? Category.SESSION;
    const notices: Notice[] = [
      ...(move.changed ? [{ name: 'connection.update', payload: { instanceId: this.id, status: move.to, previous, reason, at } } as const] : []),
      ...(extra.notify ?? []),
    ];
    await this.deps.writer.write(this.id, {
      to: move.to,
      reason,
      ...(extra.patch ? { patch: extra.patch } : {}),
      event: { category, type: `status.${event}`, severity: extra.severity ?? null, data: extra.data ?? null },
      notifications: notices.map((n) => toNotification(n, this.id)),
    });
    for (const n of notices) this.emit(n);
    this.log.info(`${previous} → ${move.to}${reason ? ` (${reason})` : ''}`, extra.data ?? {});
    return true;
  }

  private emit(notice: Notice): void {
    (this.deps.bus.emit as (name: FleetEventName, payload: unknown) => void)(notice.name, notice.payload);
  }

  /** Starts the worker unless one is running or starting. A human's start lifts a no-reconnect block. */
  start(trigger: string, byHuman = false): Promise<void> {
    if (byHuman) this.blockedBy = null;
    this.bootQueued = false;
    if (this.worker) return Promise.resolve();
    if (this.starting) return this.starting;
    this.clearReconnect();
    this.stopping = false;
    this.starting = this.launch(trigger).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async launch(trigger: string): Promise<void> {
    const generation = ++this.generation;
    if (!(await this.setStatus(LifecycleEvent.START, trigger))) return;
    let worker: WorkerHandle;
    try {
      worker = await this.deps.launch(this.id, (event, payload) => {
        if (generation === this.generation) this.onWorkerEvent(event, payload);
      });
    } catch (err) {
      if (generation !== this.generation) return;
      this.recordError();
      this.log.warn(`worker failed to start: ${coerceError(err).message}`);
      await this.setStatus(LifecycleEvent.DISCONNECTED, 'start_failed', { data: { error: coerceError(err).message } });
      await this.scheduleReconnect('start_failed');
      return;
    }
    if (generation !== this.generation) {
      // stopped while starting: this worker is nobody's
      await worker.stop(this.deps.settings.workerStopTimeoutMs);
      return;
    }
    this.worker = worker;
    this.startedAt = this.now();
    void worker.exited.then((exit) => {
      if (generation === this.generation && !this.stopping) void this.onCrash('worker_exit', { code: exit.code, signal: exit.signal });
    });
  }

  private onWorkerEvent(event: WorkerEvent, payload: unknown): void {
    const p = (payload ?? {}) as Record<string, unknown>;
    switch (event) {
      case WorkerEvent.QR:
        void this.onQr(String(p.qr));
        return;
      case WorkerEvent.AUTHENTICATED:
        void this.setStatus(LifecycleEvent.AUTHENTICATED, 'authenticated');
        return;
      case WorkerEvent.LOADING_SCREEN:
        void this.setStatus(LifecycleEvent.LOADING, 'loading');
        return;
      case WorkerEvent.READY:
        this.onReady(p);
        return;
      case WorkerEvent.DISCONNECTED:
        void this.onDisconnected(String(p.reason ?? 'unknown'));
        return;
      case WorkerEvent.AUTH_FAILURE:
        void this.onNoReconnect('AUTH_FAILURE', LifecycleEvent.AUTH_FAILURE);
        return;
      case WorkerEvent.ERROR:
        this.recordError();
        this.log.warn(`worker reported an error (${String(p.source)}): ${String(p.message)}`);
        return;
      default:
        // A crash while the worker is still starting fails its start, which handles it.
        if (CRASH_EVENTS.has(event) && this.worker) void this.onCrash(event, p);
    }
  }

  /** A new QR: announced with the move to QR_REQUIRED, or on its own when it only rotated. */
  private async onQr(value: string): Promise<void> {
    this.qr = { value, at: this.now() };
    this.armQrIdle();
    const notice: Notice = { name: 'qrcode.updated', payload: { instanceId: this.id, qr: value, at: this.qr.at } };
    if (this.status !== ConnectionStatus.QR_REQUIRED) {
      await this.setStatus(LifecycleEvent.QR, 'qr_required', { notify: [notice] });
      return;
    }
    this.emit(notice);
    await this.deps.repo
      .appendEvent(this.id, { category: Category.SESSION, type: 'qr.rotated' }, [toNotification(notice, this.id)])
      .catch((err: unknown) => this.log.warn(`could not record a QR rotation: ${coerceError(err).message}`));
  }

  private onReady(p: Record<string, unknown>): void {
    this.clearQrIdle();
    this.qr = null;
    this.attempts = 0;
    this.wid = typeof p.wid === 'string' ? p.wid : this.wid;
    this.pushName = typeof p.pushname === 'string' ? p.pushname : this.pushName;
    void this.setStatus(LifecycleEvent.READY, null, {
      patch: { reconnectAttempts: 0, wid: this.wid, pushName: this.pushName, lastConnectedAt: this.now() },
    });
  }

  private async onDisconnected(reason: string): Promise<void> {
    if (isNoReconnectReason(reason)) {
      await this.onNoReconnect(reason, LifecycleEvent.DISCONNECTED);
      return;
    }
    // The library destroys its client after any other disconnect: replace the whole worker.
    await this.onCrash(reason, {});
  }

  /** LOGOUT, BANNED, an auth failure…: record it, say so loudly, stop, and wait for a human. */
  private async onNoReconnect(reason: string, event: LifecycleEvent): Promise<void> {
    this.blockedBy = reason;
    await this.dropWorker();
    const at = this.now();
    const notify: Notice[] = [{ name: 'no.connection', payload: { instanceId: this.id, reason, at } }];
    if (reason === 'LOGOUT') notify.unshift({ name: 'logout.instance', payload: { instanceId: this.id, reason, at } });
    await this.setStatus(event, reason, { severity: 'HIGH', category: Category.RECONNECT, notify });
  }

  /** Worker exit, browser gone, page closed, an unexpected disconnect: all seen at once, all handled the same. */
  private async onCrash(kind: string, data: Record<string, unknown>): Promise<void> {
    const detectedAt = this.now();
    this.recordError();
    await this.dropWorker();
    await this.setStatus(LifecycleEvent.DISCONNECTED, kind, { data: { ...data, detectedAt: detectedAt.toISOString() } });
    await this.scheduleReconnect(kind);
  }

  private async scheduleReconnect(reason: string): Promise<void> {
    if (this.stopping) return;
    const decision = decideReconnect({ reason, attempt: this.attempts, policy: this.deps.settings.reconnect }, this.deps.random);
    if (decision.action === 'wait_for_human') {
      await this.onNoReconnect(reason, LifecycleEvent.DISCONNECTED);
      return;
    }
    if (decision.action === 'give_up') {
      const at = this.now();
      await this.setStatus(LifecycleEvent.DISCONNECTED, decision.reason, {
        severity: 'HIGH',
        category: Category.RECONNECT,
        data: { attempts: this.attempts, lastReason: reason },
        notify: [
          { name: 'reconnect.failed', payload: { instanceId: this.id, attempts: this.attempts, reason, at } },
          { name: 'no.connection', payload: { instanceId: this.id, reason: decision.reason, at } },
        ],
      });
      return;
    }
    this.attempts = decision.attempt;
    this.nextReconnectAt = new Date(this.now().getTime() + decision.delayMs);
    await this.setStatus(LifecycleEvent.RECONNECT_SCHEDULED, reason, {
      category: Category.RECONNECT,
      patch: { reconnectAttempts: this.attempts },
      data: { attempt: decision.attempt, delayMs: Math.round(decision.delayMs) },
    });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.nextReconnectAt = null;
      void this.start('reconnect');
    }, decision.delayMs);
  }

  /**
   * Stops the worker on purpose. The status records why, except after a QR wait: the instance
   * still needs its QR scanned, it just stops holding a browser while nobody looks.
   */
  async stop(reason: StopReason): Promise<void> {
    this.stopping = true;
    this.bootQueued = false;
    this.clearReconnect();
    this.clearQrIdle();
    const pending = this.starting;
    this.generation++;
    await this.dropWorker();
    await pending?.catch(() => undefined);
    if (reason === 'qr_timeout') await this.setStatus(LifecycleEvent.QR, 'qr_timeout');
    else if (reason !== 'removed') await this.setStatus(LifecycleEvent.STOPPED, reason);
  }

  /** Stops and forgets the current worker; its late events and exit are ignored. */
  private async dropWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.startedAt = null;
    this.generation++;
    if (worker) await worker.stop(this.deps.settings.workerStopTimeoutMs);
  }

  /** Operator asks for the QR: a worker idled after a QR wait is started again. */
  async requestQr(): Promise<InstanceLive['qr']> {
    if (!this.hasWorker && this.status !== ConnectionStatus.CONNECTED) await this.start('qr_requested', true);
    return this.qr;
  }

  private armQrIdle(): void {
    if (this.qrIdleTimer) return;
    this.qrIdleTimer = setTimeout(() => {
      this.qrIdleTimer = null;
      if (this.status === ConnectionStatus.QR_REQUIRED) void this.stop('qr_timeout');
    }, this.deps.settings.qrIdleTimeoutMs);
  }

  private clearQrIdle(): void {
    if (this.qrIdleTimer) clearTimeout(this.qrIdleTimer);
    this.qrIdleTimer = null;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.nextReconnectAt = null;
  }

  private recordError(): void {
    this.errors.push(this.now());
    if (this.errors.length > ERROR_MEMORY) this.errors.shift();
  }

  /** Marks the instance as about to be started at boot (`RECONNECTING`, reason `rehydrate`). */
  async markRehydrating(): Promise<void> {
    this.bootQueued = true;
    await this.setStatus(LifecycleEvent.RECONNECT_SCHEDULED, 'rehydrate', { category: Category.RECONNECT });
  }

  /** The worker once its start has finished; unlike runningWorker() it never waits for a start in progress. */
  get currentWorker(): WorkerHandle | null {
    return this.worker;
  }

  /**
   * The checks' verdict. A new health is persisted with a `health.changed` event and announced
   * (`instance.health`, as a webhook too); a new reason for the same health only updates the
   * live view, or every tick of a `stuck_in_LOADING_<n>s` would write a row.
   */
  async setHealth(health: Health, reason: string | null, severity?: NewEvent['severity']): Promise<void> {
    const previous = this.health;
    this.healthReason = reason;
    if (health === previous) return;
    this.health = health;
    const notice = { name: 'instance.health', payload: { instanceId: this.id, health, reason, at: this.now() } } as const;
    const notification = { ...toNotification(notice, this.id), ...(severity ? { severity } : {}) };
    try {
      await this.deps.repo.setHealth(this.id, { health, reason, previous, ...(severity ? { severity } : {}) }, [notification]);
    } catch (err) {
      this.log.warn(`could not record health ${health}: ${coerceError(err).message}`);
    }
    this.emit(notice);
  }

  /**
   * Soft restart, the ladder's first rung: the worker destroys its client and initializes it again
   * in the same process on the same profile. The status goes RECONNECTING → INITIALIZING here,
   * then follows the worker's events (LOADING, CONNECTED or QR_REQUIRED). Throws when no worker
   * runs, or when the worker's restart fails or does not answer within `timeoutMs`.
   */
  async softRestart(reason: string, timeoutMs: number): Promise<void> {
    const worker = this.worker;
    if (!worker) throw new NoRunningWorkerError(this.id);
    this.clearQrIdle();
    await this.setStatus(LifecycleEvent.RECONNECT_SCHEDULED, reason, { category: Category.HEALTH });
    await this.setStatus(LifecycleEvent.START, reason, { category: Category.HEALTH });
    await worker.request(WorkerCommand.RESTART, { timeoutMs: this.deps.settings.workerStopTimeoutMs }, timeoutMs);
  }

  /**
   * Hard restart, the second rung: the worker's process groups are SIGKILLed (the worker is the
   * suspect, so it is not asked to clean up), `reap` kills the profile's stray browsers and
   * removes its stale locks, and a new worker is started. A start in progress is abandoned the
   * same way. Nothing is started if the instance was stopped meanwhile (a shutdown).
   */
  async hardRestart(reason: string, reap: () => Promise<unknown>): Promise<void> {
    const generation = await this.abandonWorker(reap);
    if (generation !== this.generation) return;
    await this.setStatus(LifecycleEvent.RECONNECT_SCHEDULED, reason, { category: Category.HEALTH });
    await this.start(reason);
  }

  /**
   * Cleanup, the last rung: the worker is killed as in a hard restart, `wipe` deletes the saved
   * session (the phone must link again), the health is set `corrupted` with a HIGH notice, and a
   * fresh worker is started to show a new QR: the status reaches QR_REQUIRED through its events.
   */
  async cleanup(reason: string, reap: () => Promise<unknown>, wipe: () => void | Promise<void>): Promise<void> {
    const generation = await this.abandonWorker(reap);
    if (generation !== this.generation) return;
    await wipe();
    this.wid = null;
    this.pushName = null;
    this.attempts = 0;
    await this.setHealth(Health.CORRUPTED, reason, 'HIGH');
    await this.setStatus(LifecycleEvent.STOPPED, 'cleanup', {
      category: Category.HEALTH,
      severity: 'HIGH',
      patch: { wid: null, pushName: null, reconnectAttempts: 0 },
      data: { cause: reason },
    });
    if (generation !== this.generation) return;
    await this.start('cleanup');
  }

  /**
   * Kills the worker (and a start in progress) without asking it anything, and reaps until the
   * abandoned start has given up. Returns the generation it left, so the caller can tell whether
   * someone else (stop, another start) took over meanwhile.
   */
  private async abandonWorker(reap: () => Promise<unknown>): Promise<number> {
    this.stopping = true;
    this.clearReconnect();
    this.clearQrIdle();
    const pending = this.starting;
    const worker = this.worker;
    this.worker = null;
    this.startedAt = null;
    const generation = ++this.generation;
    worker?.kill();
    await reap();
    await worker?.exited;
    if (pending) {
      // A start blocked in a page that never loads gives up once its browser is gone.
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      while (!settled) {
        await Promise.race([pending.catch(() => undefined), sleep(REAP_AGAIN_MS)]);
        if (!settled) await reap();
      }
    }
    return generation;
  }
}
