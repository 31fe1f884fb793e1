import { coerceError } from '../../lib/errors.js';
import type { Logger } from '../logger/index.js';
import { WorkerEvent, WorkerRequest, type SessionBackupReport } from './protocol.js';
import { remoteSessionName } from './session-path.js';
import {
  checkedPayload,
  MAX_BACKUP_BYTES,
  PartAssembler,
  partCount,
  partOf,
  sha256Hex,
  SESSION_REQUEST_SCHEMAS,
  SessionStoreError,
  type ExistsReply,
  type ExtractReply,
  type SaveReply,
} from './session-transfer.js';

/*
 * The supervisor's side of SESSION_STORE=mysql: answers a worker's session requests (the RemoteAuth
 * store's calls, proxied over IPC by src/worker/session-store.ts) from the database. A worker may
 * name only its own instance's session: the instance is the one the worker was started for, never
 * what the worker says. Lives next to handle.ts, which wires it to each worker's channel.
 */

/** What the host needs from the database (src/db/session-store-repository.ts). */
export interface BackupRepository {
  meta(instanceId: string): Promise<{ size: number; sha256: string; savedAt: Date } | null>;
  save(instanceId: string, data: Buffer, sha256: string): Promise<{ size: number; sha256: string; savedAt: Date; saves: number }>;
  load(instanceId: string): Promise<{ meta: { size: number; sha256: string; savedAt: Date }; data: Buffer } | null>;
  delete(instanceId: string): Promise<boolean>;
}

export interface SessionStoreHostOptions {
  repo: BackupRepository;
  log: Logger;
  maxBytes?: number;
}

/** A disconnect that means the phone unlinked the session: its stored copy is dead too. */
const UNLINKED = new Set(['LOGOUT', 'UNPAIRED', 'UNPAIRED_IDLE']);

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export class SessionStoreHost {
  /** Bumped by every delete: a backup whose transfer began before it is not written. */
  private readonly epochs = new Map<string, number>();
  /** One database operation per instance at a time, in arrival order. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly options: SessionStoreHostOptions) {}

  get maxBytes(): number {
    return this.options.maxBytes ?? MAX_BACKUP_BYTES;
  }

  get repo(): BackupRepository {
    return this.options.repo;
  }

  /** The answers for one worker of `instanceId`; `close()` it when the worker is gone. */
  bind(instanceId: string): SessionStoreBinding {
    return new SessionStoreBinding(this, instanceId, this.options.log.child({ instanceId }));
  }

  epoch(instanceId: string): number {
    return this.epochs.get(instanceId) ?? 0;
  }

  /** Deletes the instance's stored copy (logout, the recovery ladder's wipe, the worker's own delete); true when there was one. */
  forget(instanceId: string): Promise<boolean> {
    this.epochs.set(instanceId, this.epoch(instanceId) + 1);
    return this.serial(instanceId, async () => {
      const deleted = await this.options.repo.delete(instanceId);
      if (deleted) this.options.log.info('stored session copy deleted', { instanceId });
      return deleted;
    });
  }

  serial<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(instanceId) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.queues.set(instanceId, tail);
    void tail.then(() => {
      if (this.queues.get(instanceId) === tail) this.queues.delete(instanceId);
    });
    return run;
  }
}

interface Upload {
  assembler: PartAssembler;
  epoch: number;
  startedAt: number;
}

interface Download {
  data: Buffer;
  sha256: string;
  savedAt: string;
  parts: number;
}

/** One worker's session requests, answered for its own instance only. */
export class SessionStoreBinding {
  private upload: Upload | null = null;
  private download: Download | null = null;
  /** When the current start began fetching the stored copy, until `ready` (restore-to-ready is logged). */
  private restoreStartedAt: number | null = null;
  private readonly session: string;

  constructor(
    private readonly host: SessionStoreHost,
    readonly instanceId: string,
    private readonly log: Logger,
  ) {
    this.session = remoteSessionName(instanceId);
  }

  /** The request handlers to register on the worker's channel. */
  handlers(): Array<[WorkerRequest, (payload: unknown) => Promise<unknown>]> {
    return [
      [WorkerRequest.SESSION_EXISTS, (p) => this.exists(p)],
      [WorkerRequest.SESSION_SAVE, (p) => this.save(p)],
      [WorkerRequest.SESSION_EXTRACT, (p) => this.extract(p)],
      [WorkerRequest.SESSION_DELETE, (p) => this.remove(p)],
    ];
  }

  private own(session: string, what: string): void {
    if (session === this.session) return;
    this.log.warn(`refused a worker's ${what} of session "${session.slice(0, 80)}": it may only use its own (${this.session})`);
    throw new SessionStoreError('SESSION_FORBIDDEN', `instance ${this.instanceId}'s worker may only use its own session (${this.session})`);
  }

  async exists(payload: unknown): Promise<ExistsReply> {
    const { session } = checkedPayload(SESSION_REQUEST_SCHEMAS.exists, payload, 'session_exists');
    this.own(session, 'lookup');
    const meta = await this.host.repo.meta(this.instanceId);
    return meta ? { exists: true, size: meta.size, sha256: meta.sha256, savedAt: meta.savedAt.toISOString() } : { exists: false, size: null, sha256: null, savedAt: null };
  }

  async save(payload: unknown): Promise<SaveReply> {
    const req = checkedPayload(SESSION_REQUEST_SCHEMAS.save, payload, 'session_save');
    this.own(req.session, 'save');
    try {
      if (req.part === 0) {
        this.upload = { assembler: new PartAssembler(req.size, req.sha256, this.host.maxBytes), epoch: this.host.epoch(this.instanceId), startedAt: performance.now() };
      }
      const upload = this.upload;
      if (!upload || !upload.assembler.matches(req.size, req.sha256)) {
        throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${req.part} of a backup whose first part never came`);
      }
      upload.assembler.add(req.part, Buffer.from(req.data, 'base64'));
      if (!upload.assembler.complete) return { stored: false, next: upload.assembler.next, size: req.size, sha256: req.sha256, savedAt: null };
      const data = upload.assembler.finish();
      this.upload = null;
      const stored = await this.host.serial(this.instanceId, () => {
        if (this.host.epoch(this.instanceId) !== upload.epoch) {
          throw new SessionStoreError('SESSION_DELETED', 'the stored session was deleted while this backup was on its way; not written');
        }
        return this.host.repo.save(this.instanceId, data, upload.assembler.sha256);
      });
      const ms = Math.round(performance.now() - upload.startedAt);
      this.log.info(`session backed up to MySQL: ${formatBytes(stored.size)} (backup #${stored.saves}), transferred and written in ${ms} ms`, { bytes: stored.size, ms });
      return { stored: true, next: null, size: stored.size, sha256: stored.sha256, savedAt: stored.savedAt.toISOString() };
    } catch (err) {
      this.upload = null;
      throw err;
    }
  }

  async extract(payload: unknown): Promise<ExtractReply> {
    const { session, part } = checkedPayload(SESSION_REQUEST_SCHEMAS.extract, payload, 'session_extract');
    this.own(session, 'restore');
    if (part === 0) {
      this.restoreStartedAt = performance.now();
      const stored = await this.host.serial(this.instanceId, () => this.host.repo.load(this.instanceId));
      if (!stored) throw new SessionStoreError('SESSION_NOT_FOUND', `no stored session for ${this.instanceId}`);
      const { meta, data } = stored;
      if (data.length !== meta.size || sha256Hex(data) !== meta.sha256) {
        this.log.error(`the stored session copy does not match its own size or SHA-256 (${data.length} bytes); not restored`);
        throw new SessionStoreError('SESSION_TRANSFER_FAILED', 'the stored session copy is damaged (size or SHA-256 mismatch)');
      }
      this.download = { data, sha256: meta.sha256, savedAt: meta.savedAt.toISOString(), parts: partCount(data.length) };
    }
    const download = this.download;
    if (!download || part >= download.parts) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${part} of a restore that is not under way`);
    if (part === download.parts - 1) this.download = null;
    return { part, parts: download.parts, size: download.data.length, sha256: download.sha256, savedAt: download.savedAt, data: partOf(download.data, part).toString('base64') };
  }

  async remove(payload: unknown): Promise<{ deleted: boolean }> {
    const { session } = checkedPayload(SESSION_REQUEST_SCHEMAS.delete, payload, 'session_delete');
    this.own(session, 'delete');
    this.upload = null;
    return { deleted: await this.host.forget(this.instanceId) };
  }

  /** Every checked event of the worker: backup reports are logged; an unlinked session's stored copy is deleted. */
  observe(event: WorkerEvent, payload: unknown): void {
    if (event === WorkerEvent.SESSION_BACKUP) this.logReport(payload as SessionBackupReport);
    else if (event === WorkerEvent.READY && this.restoreStartedAt !== null) {
      const ms = Math.round(performance.now() - this.restoreStartedAt);
      this.restoreStartedAt = null;
      this.log.info(`restored session ready ${ms} ms after its restore from MySQL began`, { ms });
    } else if (event === WorkerEvent.DISCONNECTED) {
      const reason = (payload as { reason: string }).reason;
      // The worker deletes it itself (RemoteAuth); this covers a worker stopped before its delete arrived.
      if (UNLINKED.has(reason)) this.host.forget(this.instanceId).catch((err: unknown) => this.log.warn(`could not delete the stored session after ${reason}: ${coerceError(err).message}`));
    }
  }

  private logReport(r: SessionBackupReport): void {
    const size = r.bytes === null ? '' : `${formatBytes(r.bytes)} `;
    const fields = { bytes: r.bytes, ms: r.ms };
    if (r.action === 'restored') this.log.info(`session restored from MySQL: ${size}fetched and unzipped in ${r.ms} ms`, fields);
    else if (r.action === 'kept' && r.message) this.log.warn(`session kept in its local profile: ${r.message}`, fields);
    else if (r.action === 'kept') this.log.info('session kept in its local profile: the stored copy has not changed since this node last saved or restored it', fields);
    else if (r.action === 'saved') this.log.debug(`session backup: ${size}zipped, sent and stored in ${r.ms} ms`, fields);
    else this.log.warn(`session backup failed: ${r.message ?? 'unknown error'}`, fields);
  }

  /** The worker is gone: a transfer under way is dropped. */
  close(): void {
    this.upload = null;
    this.download = null;
  }
}
