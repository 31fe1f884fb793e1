import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { coerceError } from '../../lib/errors.js';
import { MemorySampler, type SamplerProc } from '../checks/memory-sampler.js';
import type { Config } from '../config/index.js';
import { listEvents } from '../db/events.js';
import { InstancesRepository } from '../db/instances-repository.js';
import type { Leases } from '../cluster/leases.js';
import { SessionStoreRepository } from '../db/session-store-repository.js';
import type { Pool } from '../db/pool.js';
import { Health, type ConnectionStatus, type Instance, type InstanceEvent } from '../domain/instance.js';
import { AppError, InstanceNotFoundError, ShuttingDownError, WorkerNotRunningError } from '../errors/index.js';
import { Category, type Logger } from '../logger/index.js';
import { workerIdentity, WorkerHandle, type WorkerClient, type WorkerHandleOptions } from '../worker/handle.js';
import type { WorkerMessage } from '../worker/messages.js';
import { reapOrphans } from '../worker/reaper.js';
import { ensureSessionRoot, profileDir } from '../worker/session-path.js';
import { SessionStoreHost } from '../worker/session-store-host.js';
import { SpareWorker, type SpareView } from '../worker/spare-worker.js';
import { grantStorage } from '../worker/worker-storage.js';
import { resolveWorkerUser } from '../worker/worker-user.js';
import { BYTES_PER_MIB } from './admission.js';
import { FleetEventBus } from './event-bus.js';
import { InstanceHandle, type InstanceSettings, type WorkerLauncher } from './instance/handle.js';
import { creation, Journal } from './journal.js';
import { rehydrate } from './rehydrate.js';
import { FleetMemory, MEASURE_MAX_AGE_MS } from './fleet-memory.js';
import { StartGate, type FleetMemoryMeasurement } from './start-gate.js';

export interface FleetOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  /** How workers are started; defaults to real workers on whatsapp-web.js. Tests pass stand-ins. */
  launch?: WorkerLauncher;
  /**
   * CLUSTER=on: the leases this node holds. The fleet then runs only the instances it holds (the
   * cluster node hands them over with `takeOver`), and the journal writes its records under them.
   */
  leases?: Leases | null;
  /** /proc reader for the memory measurement; tests may lay out a fake one. */
  proc?: SamplerProc;
}

/** CLUSTER=on: what the fleet tells the cluster node (src/cluster/cluster-node.ts). */
export interface PlacementHooks {
  /** An instance may need a node now (created, enabled while no node ran it). */
  unplaced(): void;
  /** This node stopped running the instance on purpose (disabled): its lease goes back. */
  released(id: string): Promise<void>;
}

/** A hand-over's final backup: a zip and its transfer take about a second; past this the last stored copy serves. */
const HANDOVER_BACKUP_TIMEOUT_MS = 10_000;

/** Time the fleet's stop gives the journal to write what waits, before the pool closes. */
const DRAIN_BUDGET_MS = 3_000;
/** Reads of a row a QR request makes while the instance keeps starting or stopping under it; past them, the last read decides. */
const STALE_READ_RETRIES = 3;

/**
 * Real workers. As root they run as WORKER_USER, resolved and given the session storage once
 * here, so a missing user or an unreachable folder stops the boot with one line. With
 * SESSION_STORE=mysql each worker backs its session up through `sessionStore`.
 */
/**
 * The product's launcher: WorkerHandle with the fleet's settings, the worker user and the session
 * store; with WORKER_SPARE=on a start takes the spare worker when one is ready (see SpareWorker).
 */
function defaultLauncher(config: Config, sessionRoot: string, sessionStore: SessionStoreHost | null, leases: Leases | null, alive: Set<WorkerClient>, log: Logger): { launch: WorkerLauncher; spare: SpareWorker | null } {
  const user = resolveWorkerUser(config.workerUser);
  if (user) grantStorage(user, sessionRoot, config.cachePath);
  const spare =
    config.workerSpare === 'on' ? new SpareWorker(() => WorkerHandle.fork(workerIdentity(user, resolve(config.cachePath))), config.workerStartTimeoutMs, (m) => log.warn(m)) : null;
  const launch: WorkerLauncher = async (instanceId, listener) => {
    const options: WorkerHandleOptions = {
      init: {
        instanceId,
        sessionRoot,
        chromePath: config.chromePath,
        cachePath: resolve(config.cachePath),
        authTimeoutMs: config.webLoadTimeoutMs,
        fakeWeb: config.waFleetFakeWeb,
        browserSandbox: config.browserSandbox === 'on',
        sessionBackup: sessionStore ? { intervalMs: config.sessionBackupIntervalMs, firstDelayMs: config.sessionFirstBackupDelayMs } : null,
        leaseMs: leases ? leases.remainingMs() : null,
      },
      startTimeoutMs: config.workerStartTimeoutMs,
      user,
      sessionStore,
      // Every worker from its fork (or its taking) on, so that a start in progress hears the lease renewed too.
      onCreated: (worker) => {
        alive.add(worker);
        void worker.exited.then(() => alive.delete(worker));
      },
      ...listener,
    };
    const taken = spare?.take() ?? null;
    try {
      if (!taken) return await WorkerHandle.start(options);
      log.debug(`the start takes the spare worker ${taken.pid ?? '?'}`, { instanceId });
      options.onCreated!(taken);
      return await taken.init(options, config.workerStartTimeoutMs);
    } finally {
      // Once this launch is done, not during it: the next spare never competes with it.
      spare?.fill();
    }
  };
  return { launch, spare };
}

/**
 * The supervisor of every instance: one InstanceHandle per instance, the journal every change
 * goes through, and the event bus it announces on. Starts and stops the handles in order. Reads
 * of the rows go through here too (`rows`, `row`, `recentEvents`): nobody queries around it.
 * About 400 lines: it is the one door for every operation on an instance (create, enable,
 * disable, restart, logout, remove, the checks' restarts and reconciliation), each a few lines,
 * and it owns the start gate and the memory measurement the gate decides on.
 */
export class Fleet {
  readonly events: FleetEventBus;
  readonly journal: Journal;
  private readonly repo: InstancesRepository;
  private readonly handles = new Map<string, InstanceHandle>();
  /** The last row read per instance. */
  private readonly known = new Map<string, Instance>();
  private readonly sessionRoot: string;
  /** SESSION_STORE=mysql: the sessions' stored copies (workers reach them through it). */
  private readonly sessionStore: SessionStoreHost | null;
  private readonly launch: WorkerLauncher;
  /** WORKER_SPARE=on with the product's launcher: the worker forked ahead for the next start. */
  private readonly spare: SpareWorker | null;
  private readonly settings: InstanceSettings;
  private readonly log: Logger;
  private accepting = true;
  /** Aborted by stop(): a boot still bringing instances back starts no more of them. */
  private readonly stopping = new AbortController();
  private rehydration: Promise<void> = Promise.resolve();
  /**
   * The one start gate: every launch of every instance (create, enable, restart, reconnect, boot,
   * recovery, memory restart, QR request) is admitted by it, on launch concurrency and on the
   * fleet's memory measured now.
   */
  readonly gate: StartGate;
  /** Per-instance memory readings: the gate's measurement, the memory loop's history, the report. */
  readonly memory: MemorySampler;
  private readonly measurer: FleetMemory;
  /** Every worker forked and not exited, starting ones included (the lease reaches them all). */
  private readonly alive = new Set<WorkerClient>();
  private messageListener: ((instanceId: string, m: WorkerMessage) => void) | null = null;
  /** CLUSTER=on: the cluster node, told when an instance needs a node or gives one back. */
  private placement: PlacementHooks | null = null;

  constructor(private readonly options: FleetOptions) {
    const { config, pool } = options;
    this.log = options.log.child({ category: Category.SESSION });
    this.events = new FleetEventBus({
      onListenerError: (err, name) => this.log.error(`a ${name} listener threw: ${coerceError(err).message}`),
    });
    this.journal = new Journal({
      pool,
      bus: this.events,
      log: options.log.child({ category: Category.DB }),
      globalWebhookUrl: config.notificationWebhookUrl,
      onEntryFailed: (id) => this.handles.get(id)?.recordError(),
      fence: options.leases ?? null,
      nodeId: config.nodeId,
    });
    this.repo = new InstancesRepository(pool);
    this.sessionRoot = ensureSessionRoot(config.sessionStoragePath);
    this.sessionStore = config.sessionStore === 'mysql' ? new SessionStoreHost({ repo: new SessionStoreRepository(pool, config.nodeId, options.leases ? (conn, id) => options.leases!.check(conn, id, 'session backup') : undefined), log: this.log }) : null;
    const product = options.launch ? null : defaultLauncher(config, this.sessionRoot, this.sessionStore, options.leases ?? null, this.alive, this.log);
    this.launch = options.launch ?? product!.launch;
    this.spare = product?.spare ?? null;
    this.memory = new MemorySampler(config.leakWindowMs, options.proc);
    this.measurer = new FleetMemory(this.memory, config.instanceExpectedMb);
    this.gate = new StartGate({
      limit: config.launchConcurrency,
      capBytes: config.fleetMemoryCapMb * BYTES_PER_MIB,
      criticalPercent: config.memoryCriticalPercent,
      measure: (fresh) => this.measureMemory(fresh ? 0 : MEASURE_MAX_AGE_MS),
      onWait: (id, reason) => this.log.info(`start waits for admission: ${reason}`, { instanceId: id }),
      onAdmit: (id, waitedMs) => this.log.info(`start admitted after ${Math.round(waitedMs / 100) / 10} s`, { instanceId: id }),
    });
    this.settings = {
      workerStopTimeoutMs: config.workerStopTimeoutMs,
      qrIdleTimeoutMs: config.qrIdleTimeoutMs,
      reconnect: {
        baseMs: config.reconnectBaseDelayMs,
        maxMs: config.reconnectMaxDelayMs,
        jitterMs: config.reconnectJitterMs,
        maxAttempts: config.reconnectMaxAttempts,
        firstDelayMs: config.reconnectFirstDelayMs,
      },
    };
  }

  private adopt(row: Instance): InstanceHandle {
    const handle = new InstanceHandle(row.id, row, {
      journal: this.journal,
      log: this.options.log,
      launch: this.launch,
      settings: this.settings,
      gate: this.gate,
      onMessage: (id, m) => this.messageListener?.(id, m),
      ...(this.options.leases ? { leaseRanOut: () => this.options.leases!.remainingMs() === 0 } : {}),
    });
    this.known.set(row.id, row);
    this.handles.set(row.id, handle);
    return handle;
  }

  /**
   * Boot: reap what a previous run left (orphan Chromium, stale profile locks), load every
   * instance, and schedule the enabled ones to come back. Resolves once rehydration is scheduled;
   * `rehydrated` resolves when every start has been attempted.
   */
  async start(): Promise<void> {
    const reaped = await reapOrphans(this.sessionRoot);
    if (reaped.killedPids.length + reaped.removedLocks.length > 0) {
      this.log.warn(`reaped ${reaped.killedPids.length} orphan Chromium process(es) and ${reaped.removedLocks.length} stale lock(s)`);
    }
    this.spare?.fill();
    if (this.options.leases) {
      this.log.info(`CLUSTER=on: node ${this.options.leases.nodeId} runs the instances it leases`);
      return;
    }
    const rows = await this.repo.list();
    const due = rows.map((row) => this.adopt(row)).filter((h, i) => rows[i]!.enabled && !h.live.blockedBy);
    this.log.info(`${rows.length} instance(s), ${due.length} to bring back`);
    this.rehydration = rehydrate(due, {
      concurrency: this.options.config.rehydrateConcurrency,
      staggerMs: this.options.config.rehydrateStaggerMs,
      signal: this.stopping.signal,
    }).catch((err: unknown) => this.log.error(`rehydration failed: ${coerceError(err).message}`));
  }

  get rehydrated(): Promise<void> {
    return this.rehydration;
  }

  private mustAccept(): void {
    if (!this.accepting) throw new ShuttingDownError();
  }

  /**
   * The instance's handle. CLUSTER=on: only an instance this node runs has one; another that
   * exists (its row was read) is INSTANCE_NOT_PLACED, since the API forwards requests for an
   * instance another node runs before they get here.
   */
  handle(id: string): InstanceHandle {
    const handle = this.handles.get(id);
    if (handle) return handle;
    if (this.options.leases && this.known.has(id)) throw new AppError('INSTANCE_NOT_PLACED');
    throw new InstanceNotFoundError(id);
  }

  /** CLUSTER=on: other nodes write instance rows too, so nothing here sees every change to them. */
  get clustered(): boolean {
    return Boolean(this.options.leases);
  }

  /** This node's name (NODE_ID): the `node` of every instance it runs. */
  get nodeId(): string {
    return this.options.config.nodeId;
  }

  /**
   * INSTANCE_NOT_FOUND unless this node runs the instance or the database has its row; with the
   * database away, an instance whose row was read before passes, any other is DATABASE_UNAVAILABLE.
   */
  async mustExist(id: string): Promise<void> {
    // One node runs every instance: a handle is the whole answer.
    if (this.handles.has(id) || !this.options.leases) return void this.handle(id);
    if (!(await this.row(id)) && !this.known.has(id)) throw new AppError('DATABASE_UNAVAILABLE');
  }

  /**
   * `handle`, after `mustExist`: CLUSTER=on, a node that has not read the instance's row yet (it
   * just started) answers INSTANCE_NOT_PLACED for an instance that exists, not INSTANCE_NOT_FOUND.
   */
  async placedHandle(id: string): Promise<InstanceHandle> {
    await this.mustExist(id);
    return this.handle(id);
  }

  /** The handle when this node runs the instance. */
  find(id: string): InstanceHandle | undefined {
    return this.handles.get(id);
  }

  list(): InstanceHandle[] {
    return [...this.handles.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every row, or null when the database is away (the caller answers from the live view). */
  async rows(): Promise<Instance[] | null> {
    const rows = await this.readOrNull(() => this.repo.list());
    for (const row of rows ?? []) this.known.set(row.id, row);
    return rows;
  }

  /** One row; null when the database is away; INSTANCE_NOT_FOUND when it answers without it. */
  async row(id: string): Promise<Instance | null> {
    const row = await this.readOrNull(() => this.repo.require(id));
    if (row) this.known.set(id, row);
    return row;
  }

  /** The last row read of an instance, for a view while the database is away (its fields then marked stale). */
  lastRow(id: string): Instance | null {
    return this.known.get(id) ?? null;
  }

  /** Counts a pairing-code request against the instance's window; DATABASE_UNAVAILABLE when it cannot be counted. */
  async takePairingAttempt(id: string, windowMs: number, max: number): Promise<{ allowed: boolean; attempts: number }> {
    const taken = await this.readOrNull(() => this.repo.takePairingAttempt(id, windowMs, max));
    if (!taken) throw new AppError('DATABASE_UNAVAILABLE');
    return taken;
  }

  /** The instance's latest audit events, newest first; null when the database is away. */
  async recentEvents(id: string, limit: number): Promise<InstanceEvent[] | null> {
    return this.readOrNull(() => listEvents(this.options.pool, id, limit));
  }

  /** Reads go behind the journal's circuit: null while the database is away. */
  private readOrNull<T>(read: () => Promise<T>): Promise<T | null> {
    return this.journal.read(read);
  }

  async create(id: string, options: { enabled?: boolean; webhookUrl?: string | null } = {}): Promise<Instance> {
    this.mustAccept();
    const max = this.options.config.maxInstances;
    if (this.handles.size >= max) throw new AppError('INSTANCE_LIMIT', `at most ${max} instances (MAX_INSTANCES)`);
    const enabled = options.enabled !== false;
    await this.journal.record(creation(id, { enabled, webhookUrl: options.webhookUrl ?? null }), 'refuse');
    const row = await this.repo.require(id);
    if (this.options.leases) {
      this.known.set(id, row);
      this.placement?.unplaced();
      return row;
    }
    const handle = this.adopt(row);
    // Asks the gate at once: a create answers 201 whether the start is admitted or waits its turn.
    if (row.enabled) void handle.start('created', true);
    return row;
  }

  /** Records the operator's intent with its `status.instance` notification; nothing is announced when it changed nothing. */
  private async setEnabled(id: string, enabled: boolean): Promise<void> {
    const live = this.handles.get(id)?.live ?? (await this.row(id)) ?? this.lastRow(id);
    const status = live && 'status' in live ? live.status : (live?.connectionStatus ?? 'DISCONNECTED');
    const payload = { instanceId: id, status, health: live?.health ?? Health.DISCONNECTED, reason: enabled ? 'enabled' : 'disabled', at: new Date() };
    await this.journal.record(
      { instanceId: id, change: { kind: 'enabled', enabled }, event: { category: Category.SESSION, type: enabled ? 'instance.enabled' : 'instance.disabled' }, notify: [{ name: 'status.instance', payload }] },
      'refuse',
    );
  }

  /**
   * Whether an operator's intent just written still stands: read back after the write, the row
   * shows a later intent written meanwhile (an enable and a disable at once), and only the last
   * one acts, so the instance ends as its row says. The database away: our own write stands.
   */
  private async intentStands(id: string, enabled: boolean): Promise<boolean> {
    const row = await this.row(id);
    return row === null || row.enabled === enabled;
  }

  async enable(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.placedOrNull(id);
    await this.setEnabled(id, true);
    // CLUSTER=on and no node runs it: the least-loaded node claims it.
    if (!handle) return void this.placement?.unplaced();
    if (!(await this.intentStands(id, true))) return;
    await handle.requestStart('enabled', true);
  }

  async disable(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.placedOrNull(id);
    await this.setEnabled(id, false);
    if (!handle) return;
    if (!(await this.intentStands(id, false))) return;
    await handle.stop('disabled');
    this.gate.poke();
    // A disabled instance holds no node: its lease goes back.
    await this.placement?.released(id);
  }

  /**
   * The handle of an instance this node runs; CLUSTER=on, null for one no node runs (its row is
   * what an operator's intent changes then); INSTANCE_NOT_FOUND when neither.
   */
  private placedOrNull(id: string): InstanceHandle | null {
    const handle = this.handles.get(id);
    if (handle || !this.options.leases) return this.handle(id);
    if (!this.known.has(id)) throw new InstanceNotFoundError(id);
    return null;
  }

  async restart(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    await handle.stop('restart');
    await handle.requestStart('restart', true);
  }

  /** Unlinks the phone. With no worker running, the saved session (and its stored copy) is wiped directly. */
  async logout(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    const worker = await handle.runningWorker();
    if (worker) {
      await worker.logout(this.settings.workerStopTimeoutMs);
      // The worker's RemoteAuth deleted it already; this holds whatever the worker did.
      await this.sessionStore?.forget(id);
      return;
    }
    await this.sessionStore?.forget(id);
    await this.wipeProfile(id);
    await handle.loggedOut();
  }

  /**
   * The operator asks for the QR: a worker idled after a QR wait is started again, but never for
   * a disabled instance or one that waits for a human (a QR request is not a decision to re-link).
   */
  async requestQr(id: string): Promise<void> {
    const handle = this.handle(id);
    const running = () => handle.hasWorker || handle.live.status === 'CONNECTED';
    let row: Instance | null = null;
    // A start or stop while the row is read (a disable among them: its write is committed before
    // its stop begins) makes the read stale; read again, a few times at most, then decide.
    for (let reads = 1; ; reads++) {
      if (running()) return;
      const generation = handle.generation;
      row = (await this.row(id)) ?? this.lastRow(id);
      if (handle.generation === generation) break;
      if (reads === STALE_READ_RETRIES) {
        if (running()) return;
        break;
      }
    }
    if (row && !row.enabled) throw new AppError('INSTANCE_DISABLED');
    const blockedBy = handle.live.blockedBy;
    if (blockedBy) throw new AppError('INSTANCE_BLOCKED', `the instance waits for a human after ${blockedBy}; restart or enable it to link again`);
    await handle.requestStart('qr_requested');
  }

  /** Who hears the workers' message traffic (inbound messages, receipts): the message service. */
  onWorkerMessage(listener: (instanceId: string, m: WorkerMessage) => void): void {
    this.messageListener = listener;
  }

  /** The running worker of an instance, for a request only a worker can answer; WORKER_NOT_RUNNING otherwise. */
  async worker(id: string): Promise<WorkerClient> {
    const worker = await this.handle(id).runningWorker();
    if (!worker) throw new WorkerNotRunningError(id);
    return worker;
  }

  /**
   * Demo mode only: an action on the fake WhatsApp Web of a running instance (scan, logout,
   * conflict, freeze, crash …). Refused unless WA_FLEET_FAKE_WEB is on.
   */
  async simulate(id: string, action: string, args: unknown[] = []): Promise<void> {
    this.mustAccept();
    if (!this.options.config.waFleetFakeWeb) throw new AppError('DEMO_MODE_OFF');
    await (await this.worker(id)).demo(action, args, 5_000);
  }

  /** Demo mode only: asks the fake WhatsApp Web of a running instance and answers with what it says (its record of sent messages, an inbound message's id). */
  async demoQuery(id: string, action: string, args: unknown[] = []): Promise<unknown> {
    if (!this.options.config.waFleetFakeWeb) throw new AppError('DEMO_MODE_OFF');
    return (await this.worker(id)).demoQuery(action, args, 10_000);
  }

  /** Stops the worker, wipes the session data (inside the storage root only) and deletes the row. */
  async remove(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.placedOrNull(id);
    // Refused before anything stops: with the database away, the instance stays as it was.
    if (!this.journal.databaseUp) throw new AppError('DATABASE_UNAVAILABLE');
    await handle?.stop('removed');
    await this.wipeProfile(id);
    // The row's deletion cascades to it too; deleted first, a failure leaves the instance removable again.
    await this.sessionStore?.forget(id);
    await this.journal.record(
      { instanceId: id, change: { kind: 'remove' }, event: { category: Category.SESSION, type: 'instance.removed' }, notify: [{ name: 'remove.instance', payload: { instanceId: id, at: new Date() } }] },
      'refuse',
    );
    this.forget(id);
    this.gate.poke();
  }

  private forget(id: string): void {
    this.handles.delete(id);
    this.known.delete(id);
    this.memory.forget(id);
    this.options.leases?.drop(id);
  }

  /** The spare worker (WORKER_SPARE), as `GET /api/health` shows it. */
  get spareWorker(): SpareView {
    return this.spare?.view() ?? { state: 'off', pid: null };
  }

  /** CLUSTER=on: the cluster node reports to the fleet. */
  attachPlacement(hooks: PlacementHooks): void {
    this.placement = hooks;
  }

  /** CLUSTER=on: every running worker hears how long the node's lease holds (WorkerCommand.LEASE). */
  leaseWorkers(validForMs: number): void {
    const workers = new Set([...this.alive, ...[...this.handles.values()].flatMap((h) => (h.currentWorker ? [h.currentWorker] : []))]);
    for (const worker of workers) worker.lease?.(validForMs);
  }

  /** CLUSTER=on: the instances this node runs. */
  heldIds(): string[] {
    return [...this.handles.keys()];
  }

  /**
   * CLUSTER=on, a lease was just claimed: the instance is run here from its row, announced as
   * moved when another node held it, and started (restoring its session from MySQL, no QR) unless
   * it waits for a human.
   */
  async takeOver(id: string, epoch: number, from: string | null): Promise<void> {
    const leases = this.options.leases!;
    leases.hold(id, epoch);
    const row = await this.repo.get(id);
    if (!row || !this.accepting) return;
    const handle = this.adopt(row);
    this.journal.track(id, row.connectionStatus);
    // A new instance, or one this node held before, did not move.
    if (from !== null && from !== leases.nodeId) {
      const payload = { instanceId: id, from, to: leases.nodeId, epoch, at: new Date() };
      void this.journal.record({ instanceId: id, event: { category: Category.SESSION, type: 'instance.moved', data: { from, to: leases.nodeId, epoch } }, notify: [{ name: 'instance.moved', payload }] });
    }
    if (!row.enabled || handle.live.blockedBy) return;
    handle.queueForBoot();
    await handle.markRehydrating();
    void handle.start('takeover');
  }

  /**
   * CLUSTER=on, the lease is gone (another node holds it, or it could not be renewed in time): the
   * worker and its browser are killed now, nothing is recorded, the handle is forgotten.
   */
  async relinquish(id: string, why: string): Promise<void> {
    const handle = this.handles.get(id);
    this.forget(id);
    if (!handle) return;
    this.log.warn(`lease lost (${why}): worker and browser killed`, { instanceId: id });
    await handle.abandon(() => reapOrphans(this.sessionRoot, id)).catch((err: unknown) => this.log.error(`killing the worker failed: ${coerceError(err).message}`, { instanceId: id }));
    this.gate.poke();
  }

  /**
   * CLUSTER=on, a hand-over (drain, graceful stop): the worker stops politely, its status records
   * why, and the handle is forgotten; the caller then gives the lease back.
   */
  async handOver(id: string): Promise<void> {
    const handle = this.handles.get(id);
    if (!handle) return;
    // The next node restores what this one has now, not the last interval's copy.
    const worker = handle.live.status === 'CONNECTED' ? handle.currentWorker : null;
    if (worker?.backupSession && this.sessionStore) {
      const started = Date.now();
      const saved = await worker.backupSession(HANDOVER_BACKUP_TIMEOUT_MS).catch((err: unknown) => {
        this.log.warn(`the hand-over backup failed (the last stored copy will be restored): ${coerceError(err).message}`, { instanceId: id });
        return false;
      });
      if (saved) this.log.info(`session backed up for the hand-over in ${Date.now() - started} ms`, { instanceId: id });
    }
    await handle.stop('handover');
    await this.journal.drain(DRAIN_BUDGET_MS);
    this.forget(id);
    this.gate.poke();
  }

  /**
   * Shutdown: no new work, every worker destroys its client (in parallel, each within its stop
   * timeout, then its process groups are killed), every instance's state is saved with reason
   * `shutdown` (enabled untouched), and the journal writes what waits within its budget.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopping.abort();
    // Every start waiting for admission gives up; nothing is admitted any more.
    this.gate.close();
    const spareGone = this.spare?.close();
    await Promise.all(this.list().map((h) => h.stop('shutdown').catch((err: unknown) => this.log.error(`stop failed: ${coerceError(err).message}`, { instanceId: h.id }))));
    await spareGone;
    await this.journal.drain(DRAIN_BUDGET_MS);
    this.journal.close();
  }

  /**
   * Deletes an instance's profile (inside the storage root only). A browser whose worker died can
   * still be writing to it (found by a logout right after a worker SIGKILL: ENOTEMPTY), so the
   * instance's browsers are reaped first.
   */
  private async wipeProfile(id: string): Promise<void> {
    await reapOrphans(this.sessionRoot, id);
    rmSync(profileDir(this.sessionRoot, id), { recursive: true, force: true });
  }

  /** The checks' hard restart (recovery ladder, memory): kill the worker's groups, reap the profile, start again. */
  hardRestart(id: string, reason: string): Promise<void> {
    return this.handle(id).hardRestart(reason, () => reapOrphans(this.sessionRoot, id));
  }

  /** The ladder's last rung: kill, reap, wipe the saved session (inside the storage root only), start for a new QR. */
  cleanup(id: string, reason: string): Promise<void> {
    return this.handle(id).cleanup(
      reason,
      () => reapOrphans(this.sessionRoot, id),
      async () => {
        await this.wipeProfile(id);
        // Else the next start would restore the session just wiped. Unreachable, the copy stays and
        // the restart restores it: at worst the ladder climbs again, never an instance left down.
        await this.sessionStore?.forget(id).catch((err: unknown) => this.log.warn(`the stored session copy could not be deleted: ${coerceError(err).message}`, { instanceId: id }));
      },
    );
  }

  /**
   * The recovery loop read `rowStatus` from the database while the live status is another: the
   * live status is written back through the journal, with the discrepancy in its event. Skipped
   * (false) while the instance has entries waiting: their own writes will correct the row.
   */
  async reconcile(id: string, rowStatus: ConnectionStatus): Promise<boolean> {
    const live = this.handle(id).live;
    if (live.status === rowStatus || this.journal.pendingFor(id) > 0) return false;
    await this.journal.record({
      instanceId: id,
      change: { kind: 'status', to: live.status, reason: live.reason },
      event: { category: Category.HEALTH, type: 'status.reconciled', severity: 'MEDIUM', data: { discrepancy: { database: rowStatus, live: live.status } } },
    });
    return true;
  }

  /**
   * Why the start gate admits no start for memory now (critical level, or no room for one more
   * instance under the cap), from the current measurement; null when memory allows one.
   */
  get startsRefused(): string | null {
    return this.gate.memoryRefusal(this.latestMemory());
  }

  /**
   * The fleet's memory for a reader (the memory report, health, details, metrics): the latest
   * readings, from /proc only for a worker never read. Re-reading belongs to the start gate (before
   * each decision) and the memory-sample loop: a smaps_rollup read blocks the event loop (about 3 ms
   * per process), and API reads that paid for it held every request behind them (bench:api at 100
   * instances: health, details and the report at p99 34-46 ms against 13-17 for the list).
   */
  latestMemory(): FleetMemoryMeasurement {
    return this.measurer.measure(this.list(), Number.POSITIVE_INFINITY);
  }

  /** The fleet's memory now, stale readings re-read within a budget (see FleetMemory.measure): what the start gate decides on. */
  private measureMemory(maxAgeMs: number): FleetMemoryMeasurement {
    return this.measurer.measure(this.list(), maxAgeMs);
  }
}
