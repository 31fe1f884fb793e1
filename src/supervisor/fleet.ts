import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { coerceError } from '../../lib/errors.js';
import type { Config } from '../config/index.js';
import { InstancesRepository } from '../db/instances-repository.js';
import type { Pool } from '../db/pool.js';
import type { ConnectionStatus, Instance } from '../domain/instance.js';
import { InstanceNotFoundError } from '../errors/index.js';
import { Category, type Logger } from '../logger/index.js';
import { WorkerHandle } from '../worker/handle.js';
import { WorkerCommand } from '../worker/protocol.js';
import { reapOrphans } from '../worker/reaper.js';
import { ensureSessionRoot, profileDir } from '../worker/session-path.js';
import { FleetEventBus } from './event-bus.js';
import { InstanceHandle, toNotification, type InstanceSettings, type WorkerLauncher } from './instance-handle.js';
import { rehydrate } from './rehydrate.js';
import { StatusWriter } from './status-writer.js';

export interface FleetOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  /** How workers are started; defaults to real workers on whatsapp-web.js. Tests pass stand-ins. */
  launch?: WorkerLauncher;
}

export class FleetStoppedError extends Error {
  readonly code = 'FLEET_STOPPED';
  constructor() {
    super('the fleet is shutting down');
  }
}

export class DemoModeOffError extends Error {
  readonly code = 'DEMO_MODE_OFF';
  constructor() {
    super('simulation needs demo mode (WA_FLEET_FAKE_WEB=true)');
  }
}

export class WorkerNotRunningError extends Error {
  readonly code = 'WORKER_NOT_RUNNING';
  constructor(id: string) {
    super(`instance "${id}" has no running worker`);
  }
}

function defaultLauncher(config: Config, sessionRoot: string): WorkerLauncher {
  return (instanceId, onEvent) =>
    WorkerHandle.start({
      init: {
        instanceId,
        sessionRoot,
        chromePath: config.chromePath,
        cachePath: resolve(config.cachePath),
        authTimeoutMs: config.webLoadTimeoutMs,
        fakeWeb: config.waFleetFakeWeb,
      },
      startTimeoutMs: config.workerStartTimeoutMs,
      onEvent,
    });
}

/**
 * The supervisor of every instance: composes the repository, the status writer, the event bus
 * and one InstanceHandle per instance, and starts and stops them in order. Embeddable:
 * `new Fleet({ config, pool, log })`, `await fleet.start()`, `fleet.events.on(...)`.
 */
export class Fleet {
  readonly events: FleetEventBus;
  readonly repo: InstancesRepository;
  private readonly writer: StatusWriter;
  private readonly handles = new Map<string, InstanceHandle>();
  private readonly sessionRoot: string;
  private readonly launch: WorkerLauncher;
  private readonly settings: InstanceSettings;
  private readonly log: Logger;
  private accepting = true;
  /** Aborted by stop(): a boot still bringing instances back starts no more of them. */
  private readonly stopping = new AbortController();
  private rehydration: Promise<void> = Promise.resolve();

  constructor(private readonly options: FleetOptions) {
    const { config, pool } = options;
    this.log = options.log.child({ category: Category.SESSION });
    this.events = new FleetEventBus({
      onListenerError: (err, name) => this.log.error(`a ${name} listener threw: ${coerceError(err).message}`),
    });
    this.repo = new InstancesRepository(pool, undefined, { globalUrl: config.notificationWebhookUrl });
    this.writer = new StatusWriter(this.repo, options.log.child({ category: Category.DB }));
    this.sessionRoot = ensureSessionRoot(config.sessionStoragePath);
    this.launch = options.launch ?? defaultLauncher(config, this.sessionRoot);
    this.settings = {
      workerStopTimeoutMs: config.workerStopTimeoutMs,
      qrIdleTimeoutMs: config.qrIdleTimeoutMs,
      reconnect: {
        baseMs: config.reconnectBaseDelayMs,
        maxMs: config.reconnectMaxDelayMs,
        jitterMs: config.reconnectJitterMs,
        maxAttempts: config.reconnectMaxAttempts,
      },
    };
  }

  private adopt(row: Instance): InstanceHandle {
    const handle = new InstanceHandle(row.id, row, {
      repo: this.repo,
      writer: this.writer,
      bus: this.events,
      log: this.options.log,
      launch: this.launch,
      settings: this.settings,
    });
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
    if (!this.accepting) throw new FleetStoppedError();
  }

  handle(id: string): InstanceHandle {
    const handle = this.handles.get(id);
    if (!handle) throw new InstanceNotFoundError(id);
    return handle;
  }

  list(): InstanceHandle[] {
    return [...this.handles.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async create(id: string, options: { enabled?: boolean; webhookUrl?: string | null } = {}): Promise<Instance> {
    this.mustAccept();
    const row = await this.repo.create(id, options);
    const handle = this.adopt(row);
    if (row.enabled && this.mayStart(id)) void handle.start('created', true);
    return row;
  }

  /** Records the operator's intent with its `status.instance` notification, and announces it if it changed anything. */
  private async setEnabled(handle: InstanceHandle, enabled: boolean): Promise<void> {
    const payload = { instanceId: handle.id, status: handle.live.status, health: handle.health, reason: enabled ? 'enabled' : 'disabled', at: new Date() };
    const { changed } = await this.repo.setEnabled(handle.id, enabled, [toNotification({ name: 'status.instance', payload }, handle.id)]);
    if (changed) this.events.emit('status.instance', payload);
  }

  async enable(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    await this.setEnabled(handle, true);
    if (this.mayStart(id)) await handle.start('enabled', true);
  }

  async disable(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    await this.setEnabled(handle, false);
    await handle.stop('disabled');
  }

  async restart(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    await handle.stop('restart');
    await handle.start('restart', true);
  }

  /** Unlinks the phone. With no worker running, the saved session is wiped directly. */
  async logout(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    const worker = await handle.runningWorker();
    if (worker) {
      await worker.request(WorkerCommand.LOGOUT, { timeoutMs: this.settings.workerStopTimeoutMs }, this.settings.workerStopTimeoutMs + 1_000);
      return;
    }
    rmSync(profileDir(this.sessionRoot, id), { recursive: true, force: true });
    const payload = { instanceId: id, reason: 'LOGOUT', at: new Date() };
    await this.repo.appendEvent(id, { category: Category.SESSION, type: 'instance.logout', reason: 'LOGOUT' }, [
      toNotification({ name: 'logout.instance', payload }, id),
    ]);
    this.events.emit('logout.instance', payload);
  }

  /**
   * Demo/test mode only: an action on the fake WhatsApp Web of a running instance (scan, logout,
   * conflict, freeze, crash …). Refused unless WA_FLEET_FAKE_WEB is on.
   */
  async simulate(id: string, action: string, args: unknown[] = []): Promise<void> {
    this.mustAccept();
    if (!this.options.config.waFleetFakeWeb) throw new DemoModeOffError();
    const worker = await this.handle(id).runningWorker();
    if (!worker) throw new WorkerNotRunningError(id);
    await worker.request(WorkerCommand.SIMULATE, { action, args, timeoutMs: 5_000 }, 6_000);
  }

  /** Stops the worker, wipes the session data (inside the storage root only) and deletes the row. */
  async remove(id: string): Promise<void> {
    this.mustAccept();
    const handle = this.handle(id);
    await handle.stop('removed');
    rmSync(profileDir(this.sessionRoot, id), { recursive: true, force: true });
    const payload = { instanceId: id, at: new Date() };
    await this.repo.remove(id, [toNotification({ name: 'remove.instance', payload }, id)]);
    this.writer.forget(id);
    this.handles.delete(id);
    this.events.emit('remove.instance', payload);
  }

  /**
   * Shutdown: no new work, every worker destroys its client (in parallel, each within its stop
   * timeout, then its process groups are killed), every instance's state is saved with reason
   * `shutdown` (enabled untouched), and the queued writes are drained.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopping.abort();
    await Promise.all(this.list().map((h) => h.stop('shutdown').catch((err: unknown) => this.log.error(`stop failed: ${coerceError(err).message}`, { instanceId: h.id }))));
    await this.writer.drain();
    this.writer.close();
  }

  /** Set by the memory loop while the fleet is over its critical memory level; null when starts are allowed. */
  private startRefusal: string | null = null;

  /** The checks' hard restart (recovery ladder, memory): kill the worker's groups, reap the profile, start again. */
  hardRestart(id: string, reason: string): Promise<void> {
    return this.handle(id).hardRestart(reason, () => reapOrphans(this.sessionRoot, id));
  }

  /** The ladder's last rung: kill, reap, wipe the saved session (inside the storage root only), start for a new QR. */
  cleanup(id: string, reason: string): Promise<void> {
    return this.handle(id).cleanup(
      reason,
      () => reapOrphans(this.sessionRoot, id),
      () => rmSync(profileDir(this.sessionRoot, id), { recursive: true, force: true }),
    );
  }

  /**
   * The recovery loop read `rowStatus` from the database while the live status is another: the
   * live status is written back through the status writer, with the discrepancy in its event.
   * Skipped (false) while the writer holds deferred writes: its own flush will correct the row.
   */
  async reconcile(id: string, rowStatus: ConnectionStatus): Promise<boolean> {
    const live = this.handle(id).live;
    if (live.status === rowStatus || this.writer.pending > 0) return false;
    await this.writer.write(id, {
      to: live.status,
      reason: live.reason,
      event: {
        category: Category.HEALTH,
        type: 'status.reconciled',
        severity: 'MEDIUM',
        data: { discrepancy: { database: rowStatus, live: live.status } },
      },
    });
    return true;
  }

  /** False while the memory guard refuses starts: the intent is recorded, the recovery loop starts it later. */
  private mayStart(id: string): boolean {
    if (!this.startRefusal) return true;
    this.log.warn(`not starting now (${this.startRefusal}); it will start when memory allows`, { instanceId: id });
    return false;
  }

  /** The memory guard: while a reason is set, the checks start no instance (critical fleet memory). */
  refuseStarts(reason: string | null): void {
    if (reason !== this.startRefusal) this.log.warn(reason ? `refusing new starts: ${reason}` : 'starts allowed again');
    this.startRefusal = reason;
  }

  /** Why starts are refused now, or null. */
  get startsRefused(): string | null {
    return this.startRefusal;
  }
}
