import { coerceError } from '../../../lib/errors.js';
import { ConnectionStatus, type Health, type Instance, type NewEvent } from '../../domain/instance.js';
import { Category, type Logger } from '../../logger/index.js';
import type { WorkerClient, WorkerListener } from '../../worker/handle.js';
import type { EventPayload, WorkerMessage } from '../../worker/messages.js';
import { WorkerEvent } from '../../worker/protocol.js';
import type { Journal } from '../journal.js';
import type { Notice } from '../notice.js';
import { isNoReconnectReason, type ReconnectPolicy } from '../reconnect-policy.js';
import type { AdmissionWaiting, StartRequest } from '../start-gate.js';
import { LifecycleEvent, nextStatus } from '../state-machine.js';
import { describeCrash, InstanceFacts } from './facts.js';
import { QrIdleTimer } from './qr-idle-timer.js';
import { ReconnectTimer } from './reconnect-timer.js';
import { cleanup, hardRestart, softRestart, type RungTarget } from './recovery-rungs.js';
import { StatusCore } from './status.js';
import { WorkerSlot } from './worker-slot.js';

/** Starts a worker for an instance; its checked events (and refused ones) go to `listener`, from the first one. */
export type WorkerLauncher = (instanceId: string, listener: Required<WorkerListener>) => Promise<WorkerClient>;

export interface InstanceSettings {
  workerStopTimeoutMs: number;
  qrIdleTimeoutMs: number;
  reconnect: ReconnectPolicy;
}

/** The fleet's start gate, as an instance uses it (src/supervisor/start-gate.ts). */
export interface StartAdmission {
  request(id: string): StartRequest;
  cancel(id: string): void;
  waiting(id: string): AdmissionWaiting | null;
  isWaiting(id: string): boolean;
}

/** No gate: every start is admitted at once (an instance built on its own, in a unit test). */
const ADMIT_ALL: StartAdmission = {
  request: () => ({ ticket: Promise.resolve({ release: () => undefined }), queued: false }),
  cancel: () => undefined,
  waiting: () => null,
  isWaiting: () => false,
};

export interface InstanceDeps {
  journal: Journal;
  log: Logger;
  launch: WorkerLauncher;
  settings: InstanceSettings;
  /** Every launch asks it first; without one every start is admitted at once. */
  gate?: StartAdmission;
  /** Where the worker's message traffic (inbound messages, receipts) goes: it is not the handle's business. */
  onMessage?: (instanceId: string, m: WorkerMessage) => void;
  /**
   * CLUSTER=on: true once the node's lease time has run out (it could not renew). Its workers
   * hold the same deadline and end themselves at it, so a crash seen then is the fence's doing,
   * not the instance's: nothing is announced or recorded (the writes would be refused, and the
   * event stream would tell of changes no record holds), no reconnect is tried (its worker would
   * end at once), and the fleet relinquishes the instance.
   */
  leaseRanOut?: () => boolean;
  random?: () => number;
  now?: () => Date;
}

/** Why the supervisor stopped a worker on purpose; never mistaken for a crash. */
export type StopReason = 'disabled' | 'qr_timeout' | 'shutdown' | 'restart' | 'removed' | 'no_reconnect' | 'handover';

/** What the instance is doing right now, as the supervisor sees it (the API's live view). */
export interface InstanceLive {
  status: ConnectionStatus;
  reason: string | null;
  statusChangedAt: Date;
  health: Health;
  healthReason: string | null;
  workerPid: number | null;
  browserPid: number | null;
  startedAt: Date | null;
  reconnectAttempts: number;
  nextReconnectAt: Date | null;
  /** Waiting in the boot queue for its turn: like a pending reconnect, neither stuck nor due for a start. */
  bootQueued: boolean;
  /**
   * A crash is being handled: its worker is gone and its reconnect about to be decided (the
   * DISCONNECTED write comes first). Not due for a start from anyone else meanwhile.
   */
  handlingCrash: boolean;
  /**
   * A start waiting at the fleet's start gate (launch concurrency, fleet memory), with why; null
   * otherwise. The status stays what it was (DISCONNECTED, RECONNECTING, QR_REQUIRED) until the
   * start is admitted and the worker launched (INITIALIZING).
   */
  admission: AdmissionWaiting | null;
  /** A reason that forbids reconnecting (LOGOUT, BANNED, …): the instance waits for a human. */
  blockedBy: string | null;
  qr: { value: string; at: Date } | null;
  wid: string | null;
  pushName: string | null;
  /** The last start failure or crash, as recorded in `last_error`. */
  lastError: string | null;
  recentErrors: Date[];
}

const CRASH_EVENTS = new Set<WorkerEvent>([WorkerEvent.BROWSER_DISCONNECTED, WorkerEvent.PAGE_CLOSED]);

/**
 * One instance under supervision: composes its status core (the only setter), its worker slot,
 * its facts, its reconnect and QR idle timers and the recovery rungs, and follows its worker's
 * events. Over 300 lines because this is where worker events meet the status: the start, crash,
 * disconnect, reconnect and stop paths read and change the same slot, timers and facts, and
 * split apart each would need the others' internals.
 */
export class InstanceHandle {
  readonly core: StatusCore;
  readonly slot: WorkerSlot;
  private readonly reconnect: ReconnectTimer;
  private readonly qrIdle: QrIdleTimer;
  private stopping = false;
  private readonly facts: InstanceFacts;
  private readonly log: Logger;
  /** Crashes being handled now (see `live.handlingCrash`). */
  private crashesInHand = 0;
  private readonly now: () => Date;
  private readonly rungs: RungTarget;
  private readonly gate: StartAdmission;

  constructor(
    readonly id: string,
    row: Instance,
    private readonly deps: InstanceDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.gate = deps.gate ?? ADMIT_ALL;
    this.log = deps.log.child({ category: Category.SESSION, instanceId: id });
    this.core = new StatusCore(id, row, deps.journal, this.log, this.now);
    this.slot = new WorkerSlot(this.now);
    this.reconnect = new ReconnectTimer(deps.settings.reconnect, deps.random, this.now);
    this.qrIdle = new QrIdleTimer(deps.settings.qrIdleTimeoutMs);
    this.facts = new InstanceFacts(row, this.now);
    this.rungs = {
      id,
      slot: this.slot,
      core: this.core,
      stopTimeoutMs: deps.settings.workerStopTimeoutMs,
      clearTimers: () => this.clearTimers(),
      quiesce: () => {
        this.stopping = true;
        this.clearTimers();
        this.gate.cancel(id);
      },
      start: (trigger) => this.requestStart(trigger),
      forgetPhone: () => this.facts.forgetPhone(),
    };
  }

  get live(): InstanceLive {
    const worker = this.slot.current;
    return {
      status: this.core.status,
      reason: this.core.reason,
      statusChangedAt: this.core.statusChangedAt,
      health: this.core.health,
      healthReason: this.core.healthReason,
      workerPid: worker?.pid ?? null,
      browserPid: worker?.browserPid ?? null,
      startedAt: this.slot.startedAt,
      reconnectAttempts: this.facts.attempts,
      nextReconnectAt: this.reconnect.nextAt,
      bootQueued: this.facts.bootQueued,
      handlingCrash: this.crashesInHand > 0,
      admission: this.gate.waiting(this.id),
      blockedBy: this.facts.blockedBy,
      qr: this.facts.qr,
      wid: this.facts.wid,
      pushName: this.facts.pushName,
      lastError: this.facts.lastError,
      recentErrors: this.facts.recentErrors,
    };
  }

  get health(): Health {
    return this.core.health;
  }

  get hasWorker(): boolean {
    return this.slot.occupied;
  }

  /**
   * Moves at every start, stop and kill of the worker. A decision to start taken on a row read
   * before it moved may be stale: a disable writes its row, then stops (which moves this).
   */
  get generation(): number {
    return this.slot.generation;
  }

  /** The worker once its start has finished; never waits for a start in progress. */
  get currentWorker(): WorkerClient | null {
    return this.slot.current;
  }

  /**
   * The running worker, once a start in progress has finished (a QR can arrive before it has).
   * A start still waiting at the gate has no worker to wait for: null at once.
   */
  runningWorker(): Promise<WorkerClient | null> {
    if (this.gate.isWaiting(this.id)) return Promise.resolve(null);
    return this.slot.running();
  }

  /** Waiting at the fleet's start gate for its turn. */
  get waitingForAdmission(): boolean {
    return this.gate.isWaiting(this.id);
  }

  setHealth(health: Health, reason: string | null, severity?: NewEvent['severity']): Promise<void> {
    return this.core.setHealth(health, reason, severity);
  }

  /**
   * Starts the worker unless one is running or starting; resolves once the launch has finished
   * (however long it waited at the gate). A human's start lifts a no-reconnect block.
   */
  start(trigger: string, byHuman = false): Promise<void> {
    if (byHuman) this.facts.blockedBy = null;
    this.facts.bootQueued = false;
    if (this.slot.current) return Promise.resolve();
    if (!this.slot.pendingStart) {
      this.reconnect.clear();
      this.stopping = false;
    }
    return this.slot.begin((generation) => this.launch(trigger, generation));
  }

  /**
   * Like start(), but resolves at once when the start waits at the gate (its live view says why):
   * an API request, a check loop or a recovery step must not hang for as long as memory is short.
   */
  requestStart(trigger: string, byHuman = false): Promise<void> {
    const started = this.start(trigger, byHuman);
    if (!this.gate.isWaiting(this.id)) return started;
    started.catch((err: unknown) => this.log.error(`start failed: ${coerceError(err).message}`));
    return Promise.resolve();
  }

  /**
   * Waits for the gate's admission, then launches. The gate is asked synchronously (before the
   * first await), so `start()`'s caller can tell at once whether the start waits. The launch slot
   * is released once the launch has finished: the worker's handshake is answered after
   * initialize() has loaded the page (QR shown or session restored) and the worker and browser
   * pids are known, so the memory this launch costs is what the next decision measures; a
   * failed launch costs nothing any more.
   */
  private async launch(trigger: string, generation: number): Promise<void> {
    // Refused by the state machine anyway (it logs why): no turn at the gate to wait for.
    if (!nextStatus(this.core.status, LifecycleEvent.START).ok) {
      await this.core.move(LifecycleEvent.START, trigger);
      return;
    }
    const { ticket: admitted } = this.gate.request(this.id);
    const ticket = await admitted;
    if (!ticket) return; // stopped while waiting, or the fleet is shutting down
    try {
      if (!this.slot.isCurrent(generation)) return;
      await this.launchAdmitted(trigger, generation);
    } finally {
      ticket.release();
    }
  }

  private async launchAdmitted(trigger: string, generation: number): Promise<void> {
    if (!(await this.core.move(LifecycleEvent.START, trigger))) return;
    let worker: WorkerClient;
    try {
      worker = await this.deps.launch(this.id, {
        onEvent: (event, payload) => {
          if (this.slot.isCurrent(generation)) this.onWorkerEvent({ event, payload } as WorkerMessage);
        },
        onInvalid: (event, problem) => {
          if (this.slot.isCurrent(generation)) void this.onInvalid(event, problem);
        },
      });
    } catch (err) {
      if (!this.slot.isCurrent(generation)) return;
      const message = coerceError(err).message;
      this.recordError(`start_failed: ${message}`);
      this.log.warn(`worker failed to start: ${message}`);
      await this.core.move(LifecycleEvent.DISCONNECTED, 'start_failed', { data: { error: message }, patch: { lastError: this.facts.lastError } });
      await this.scheduleReconnect('start_failed');
      return;
    }
    if (!this.slot.install(worker, generation)) {
      // stopped while starting: this worker is nobody's
      await worker.stop(this.deps.settings.workerStopTimeoutMs);
      return;
    }
    void worker.exited.then((exit) => {
      if (this.slot.isCurrent(generation) && !this.stopping) void this.onCrash('worker_exit', { code: exit.code, signal: exit.signal });
    });
  }

  private onWorkerEvent(m: WorkerMessage): void {
    switch (m.event) {
      case WorkerEvent.QR:
        void this.onQr(m.payload.qr);
        return;
      case WorkerEvent.AUTHENTICATED:
        void this.core.move(LifecycleEvent.AUTHENTICATED, 'authenticated');
        return;
      case WorkerEvent.LOADING_SCREEN:
        void this.core.move(LifecycleEvent.LOADING, 'loading');
        return;
      case WorkerEvent.READY:
        this.onReady(m.payload);
        return;
      case WorkerEvent.DISCONNECTED:
        void this.onDisconnected(m.payload.reason);
        return;
      case WorkerEvent.AUTH_FAILURE:
        void this.onNoReconnect('AUTH_FAILURE', LifecycleEvent.AUTH_FAILURE);
        return;
      case WorkerEvent.ERROR:
        this.recordError();
        this.log.warn(`worker reported an error (${m.payload.source}): ${m.payload.message}`);
        return;
      case WorkerEvent.MESSAGE:
      case WorkerEvent.MESSAGE_ACK:
        this.deps.onMessage?.(this.id, m);
        return;
      default:
        // A crash while the worker is still starting fails its start, which handles it.
        if (CRASH_EVENTS.has(m.event) && this.slot.current) void this.onCrash(m.event, (m.payload ?? {}) as Record<string, unknown>);
    }
  }

  /** A message refused at the boundary: an error of this instance, recorded (within a rate) and never acted on. */
  private async onInvalid(event: WorkerEvent, problem: string): Promise<void> {
    this.recordError();
    this.log.warn(`refused a ${event} message from the worker: ${problem}`);
    if (!this.facts.takeInvalidRecord()) return;
    await this.deps.journal.record({
      instanceId: this.id,
      event: { category: Category.SESSION, type: 'worker.invalid_message', severity: 'MEDIUM', reason: problem, data: { event, problem } },
    });
  }

  /** A new QR: announced with the move to QR_REQUIRED, or on its own when it only rotated. */
  private async onQr(value: string): Promise<void> {
    this.facts.qr = { value, at: this.now() };
    this.qrIdle.arm(() => {
      if (this.core.status === ConnectionStatus.QR_REQUIRED) void this.stop('qr_timeout');
    });
    const notice: Notice = { name: 'qrcode.updated', payload: { instanceId: this.id, qr: value, at: this.facts.qr.at } };
    if (this.core.status !== ConnectionStatus.QR_REQUIRED) {
      await this.core.move(LifecycleEvent.QR, 'qr_required', { notify: [notice] });
      return;
    }
    await this.deps.journal.record({ instanceId: this.id, event: { category: Category.SESSION, type: 'qr.rotated' }, notify: [notice], coalesce: 'qr' });
  }

  private onReady(p: EventPayload<typeof WorkerEvent.READY>): void {
    this.qrIdle.clear();
    this.facts.linked(p);
    void this.core.move(LifecycleEvent.READY, null, {
      patch: { reconnectAttempts: 0, wid: this.facts.wid, pushName: this.facts.pushName, lastConnectedAt: this.now() },
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
    this.facts.blockedBy = reason;
    this.facts.lastError = reason;
    await this.slot.drop(this.deps.settings.workerStopTimeoutMs);
    const at = this.now();
    const notify: Notice[] = [{ name: 'no.connection', payload: { instanceId: this.id, reason, at } }];
    if (reason === 'LOGOUT') notify.unshift({ name: 'logout.instance', payload: { instanceId: this.id, reason, at } });
    await this.core.move(event, reason, { severity: 'HIGH', category: Category.RECONNECT, notify, patch: { lastError: reason } });
  }

  /** Worker exit, browser gone, page closed, an unexpected disconnect: all seen at once, all handled the same. */
  private async onCrash(kind: string, data: Record<string, unknown>): Promise<void> {
    if (this.deps.leaseRanOut?.()) {
      this.log.info(`${kind} after the node's lease ran out: left to the self-fence`);
      await this.slot.drop(this.deps.settings.workerStopTimeoutMs);
      return;
    }
    const detectedAt = this.now();
    const connectedForMs = this.core.status === ConnectionStatus.CONNECTED ? detectedAt.getTime() - this.core.statusChangedAt.getTime() : null;
    this.recordError(describeCrash(kind, data));
    // From the drop until the reconnect is scheduled the instance has no worker and no pending
    // reconnect: the recovery loop must not take it for one nobody looks after (found by chaos:
    // its start ran into the reconnect being scheduled, and the instance stuck in RECONNECTING).
    this.crashesInHand++;
    try {
      await this.slot.drop(this.deps.settings.workerStopTimeoutMs);
      await this.core.move(LifecycleEvent.DISCONNECTED, kind, { data: { ...data, detectedAt: detectedAt.toISOString() }, patch: { lastError: this.facts.lastError } });
      await this.scheduleReconnect(kind, connectedForMs);
    } finally {
      this.crashesInHand--;
    }
  }

  private async scheduleReconnect(reason: string, connectedForMs: number | null = null): Promise<void> {
    if (this.stopping) return;
    const decision = this.reconnect.decide(reason, this.facts.attempts, connectedForMs);
    if (decision.action === 'wait_for_human') {
      await this.onNoReconnect(reason, LifecycleEvent.DISCONNECTED);
      return;
    }
    if (decision.action === 'give_up') {
      const at = this.now();
      await this.core.move(LifecycleEvent.DISCONNECTED, decision.reason, {
        severity: 'HIGH',
        category: Category.RECONNECT,
        data: { attempts: this.facts.attempts, lastReason: reason },
        notify: [
          { name: 'reconnect.failed', payload: { instanceId: this.id, attempts: this.facts.attempts, reason, at } },
          { name: 'no.connection', payload: { instanceId: this.id, reason: decision.reason, at } },
        ],
      });
      return;
    }
    this.facts.attempts = decision.attempt;
    this.reconnect.schedule(decision.delayMs, () => void this.start('reconnect'));
    await this.core.move(LifecycleEvent.RECONNECT_SCHEDULED, reason, {
      category: Category.RECONNECT,
      patch: { reconnectAttempts: this.facts.attempts },
      data: { attempt: decision.attempt, delayMs: Math.round(decision.delayMs) },
    });
  }

  /**
   * Stops the worker on purpose. The status records why, except after a QR wait: the instance
   * still needs its QR scanned, it just stops holding a browser while nobody looks.
   */
  async stop(reason: StopReason): Promise<void> {
    this.stopping = true;
    this.facts.bootQueued = false;
    this.clearTimers();
    const pending = this.slot.pendingStart;
    this.slot.bump();
    // A start waiting at the gate leaves the queue: its launch gives up at once.
    this.gate.cancel(this.id);
    await this.slot.drop(this.deps.settings.workerStopTimeoutMs);
    await pending?.catch(() => undefined);
    if (reason === 'qr_timeout') await this.core.move(LifecycleEvent.QR, 'qr_timeout');
    else if (reason !== 'removed') await this.core.move(LifecycleEvent.STOPPED, reason);
  }

  /**
   * CLUSTER=on, the lease is lost: the worker and its browser are killed at once, without asking
   * them anything and without recording anything (the write would be refused: another node may
   * run the instance already). The handle is dead afterwards; the fleet forgets it.
   */
  async abandon(reap: () => Promise<unknown>): Promise<void> {
    this.stopping = true;
    this.facts.bootQueued = false;
    this.clearTimers();
    this.gate.cancel(this.id);
    await this.slot.abandon(reap);
  }

  /**
   * The operator logged the session out while no worker ran (its saved session is wiped): the
   * phone is gone as after a LOGOUT seen on the page. No reconnect; the instance waits for a human,
   * and what was queued for that phone is never sent from the next one linked.
   */
  async loggedOut(): Promise<void> {
    this.clearTimers();
    this.facts.bootQueued = false;
    await this.onNoReconnect('LOGOUT', LifecycleEvent.DISCONNECTED);
  }

  /** The boot will start this instance: the recovery loop leaves it alone (`bootQueued`) from now on. */
  queueForBoot(): void {
    this.facts.bootQueued = true;
  }

  /**
   * Marks the instance queued for boot as about to be started (`RECONNECTING`, reason
   * `rehydrate`). Not when a start came since it was queued (start() unqueues it): moved back to
   * RECONNECTING, that start's own events (authenticated, ready) would be refused and the
   * instance left stuck with a live worker.
   */
  async markRehydrating(): Promise<void> {
    if (!this.facts.bootQueued) return;
    await this.core.move(LifecycleEvent.RECONNECT_SCHEDULED, 'rehydrate', { category: Category.RECONNECT });
  }

  /** Counts an error against the instance's budget (and, with a description, as its last error). */
  recordError(description?: string): void {
    this.facts.recordError(description);
  }

  softRestart(reason: string, timeoutMs: number): Promise<void> {
    return softRestart(this.rungs, reason, timeoutMs);
  }

  hardRestart(reason: string, reap: () => Promise<unknown>): Promise<void> {
    return hardRestart(this.rungs, reason, reap);
  }

  cleanup(reason: string, reap: () => Promise<unknown>, wipe: () => void | Promise<void>): Promise<void> {
    return cleanup(this.rungs, reason, reap, wipe);
  }

  private clearTimers(): void {
    this.reconnect.clear();
    this.qrIdle.clear();
  }
}
