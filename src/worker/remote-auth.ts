import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer';
import { coerceError } from '../../lib/errors.js';
import { loadRemoteAuth } from './library.js';
import { adoptLocalProfile, BACKUP_MARKER } from './profile-layout.js';
import type { SessionBackupReport, WorkerInit } from './protocol.js';
import { profileDir, remoteProfileDir } from './session-path.js';
import { IpcSessionStore, type AskSupervisor } from './session-store.js';
import { FIRST_BACKUP_DELAY_MS, type ExistsReply } from './session-transfer.js';
import { extractSessionZip } from './session-zip.js';

const RemoteAuth = loadRemoteAuth();

/** RemoteAuth as it is at run time (1.34.7): the typings declare none of what is overridden here. */
interface RemoteAuthInternals {
  client: unknown;
  userDataDir: string;
  sessionName: string;
  backupSync: NodeJS.Timeout | undefined;
  backupSyncIntervalMs: number;
  setup(client: unknown): void;
  beforeBrowserInitialized(): Promise<void>;
  afterBrowserInitialized(): Promise<void>;
  afterAuthReady(): Promise<void>;
  extractRemoteSession(): Promise<void>;
  unCompressSession(compressedSessionPath: string): Promise<void>;
  storeRemoteSession(options?: { emit?: boolean }): Promise<void>;
  disconnect(): Promise<void>;
  logout(): Promise<void>;
  destroy(): Promise<void>;
  isValidPath(path: string): Promise<boolean>;
}
const RemoteAuthBase = RemoteAuth as unknown as new (options: { clientId: string; dataPath: string; store: IpcSessionStore; backupSyncIntervalMs: number }) => RemoteAuthInternals;

/** Socket states after which the phone no longer has this session: its stored copy is dead too. */
const UNLINKED_STATES = new Set(['UNPAIRED', 'UNPAIRED_IDLE']);

export interface WorkerRemoteAuthOptions {
  init: WorkerInit;
  /** SESSION_BACKUP_INTERVAL_MS (RemoteAuth refuses less than 60 s). */
  intervalMs: number;
  /** SESSION_FIRST_BACKUP_DELAY_MS; RemoteAuth's own 60 s when absent. */
  firstDelayMs?: number | undefined;
  ask: AskSupervisor;
  onBrowser: (browser: Browser, page: Page) => void;
  report: (r: SessionBackupReport) => void;
}

/**
 * whatsapp-web.js's RemoteAuth, its store a proxy to the supervisor (the worker has no database
 * access), with wa-fleet's profile rules and five changes, each for a reason:
 * - layout: dataPath is the instance's own folder, so Chromium's profile is
 *   `<root>/session-<id>/RemoteAuth-<id>` (owner-only), HOME stays in `<root>/session-<id>/home`,
 *   and the zip and staging folder never leave the instance's folder;
 * - restore: RemoteAuth replaces the local profile with the stored copy at every start, which would
 *   throw away up to one backup interval of the session's own state (keys, the fake page's records)
 *   on every restart. Here the local profile is kept while the stored copy is the one this profile
 *   last saved or restored (the marker file), and restored from MySQL when the folder is gone or
 *   another node saved since;
 * - disconnect: RemoteAuth deletes the stored copy and the profile on any disconnect, CONFLICT
 *   (WhatsApp open elsewhere) included, where LocalAuth keeps both and the fleet reconnects without
 *   a QR. Here only an unlinked session (UNPAIRED, logout) is deleted;
 * - unzip: from the zip's central directory, not RemoteAuth's streaming unzip, which cuts entries
 *   short when their bytes hold a zip signature (session-zip.ts);
 * - timers: the first backup (60 s after `ready`, as the library does) and the periodic ones are
 *   cancelled by destroy, logout and a new start, and a failed backup is reported, never an
 *   unhandled rejection.
 */
export class WorkerRemoteAuth extends RemoteAuthBase {
  private readonly sessions: IpcSessionStore;
  private readonly folder: string;
  /** Bumped whenever pending backups must not run any more. */
  private generation = 0;
  private lastState: string | null = null;
  private firstBackup: { timer: NodeJS.Timeout; resolve: (due: boolean) => void } | null = null;
  private saving = false;
  /** Backups stored by this start: tells backupNow whether its own went through. */
  private saves = 0;
  /** This start moved a LocalAuth profile in (SESSION_STORE was local): it is newer than any stored copy. */
  private adopted = false;

  constructor(private readonly options: WorkerRemoteAuthOptions) {
    const folder = profileDir(options.init.sessionRoot, options.init.instanceId);
    super({ clientId: options.init.instanceId, dataPath: folder, store: new IpcSessionStore(folder, options.ask), backupSyncIntervalMs: options.intervalMs });
    this.folder = folder;
    this.sessions = (this as unknown as { store: IpcSessionStore }).store;
  }

  private get marker(): string {
    return join(this.folder, BACKUP_MARKER);
  }

  override setup(client: unknown): void {
    super.setup(client);
    // Emitted before the library calls disconnect(): tells an unlinked session from a conflict.
    (client as NodeJS.EventEmitter).on('change_state', (state: unknown) => {
      this.lastState = String(state);
    });
  }

  override async beforeBrowserInitialized(): Promise<void> {
    this.stopBackups();
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    this.adopted = adoptLocalProfile(this.folder, remoteProfileDir(this.options.init.sessionRoot, this.options.init.instanceId));
    await super.beforeBrowserInitialized();
    await chmod(this.userDataDir, 0o700);
  }

  override async afterBrowserInitialized(): Promise<void> {
    await super.afterBrowserInitialized();
    const client = this.client as { pupBrowser: Browser; pupPage: Page };
    this.options.onBrowser(client.pupBrowser, client.pupPage);
  }

  /** Called by RemoteAuth's beforeBrowserInitialized once userDataDir and sessionName are set. */
  override async extractRemoteSession(): Promise<void> {
    const started = performance.now();
    const local = await this.isValidPath(this.userDataDir);
    let remote: ExistsReply;
    try {
      remote = await this.sessions.describe(this.sessionName);
    } catch (err) {
      // The database is away (or the supervisor did not answer): a profile of its own still starts,
      // as with SESSION_STORE=local. Without one the start fails and is retried: a QR now could
      // replace a session that is stored.
      if (!local) throw err;
      this.options.report({ action: 'kept', bytes: null, ms: Math.round(performance.now() - started), message: `the stored copy could not be checked: ${coerceError(err).message}` });
      return;
    }
    const synced = await readMarker(this.marker);
    if (local && (this.adopted || (remote.exists ? synced === remote.sha256 : synced === null))) {
      this.options.report({ action: 'kept', bytes: null, ms: Math.round(performance.now() - started) });
      return;
    }
    await rm(this.marker, { force: true });
    // Removes the local profile, then extracts the stored copy, or starts an empty profile.
    await super.extractRemoteSession();
    const restored = this.sessions.takeExtracted();
    if (!restored) return;
    await writeMarker(this.marker, restored.sha256);
    this.options.report({ action: 'restored', bytes: restored.size, ms: Math.round(performance.now() - started) });
  }

  /** Called by RemoteAuth's extractRemoteSession with the zip the store wrote. */
  override async unCompressSession(compressedSessionPath: string): Promise<void> {
    await extractSessionZip(compressedSessionPath, this.userDataDir);
  }

  override async afterAuthReady(): Promise<void> {
    this.stopBackups();
    const generation = this.generation;
    this.sessions.savesEnabled = true;
    try {
      // Unknown (the database away): backed up as if there were none; a failed backup is retried every interval.
      const stored = !this.adopted && (await this.sessions.sessionExists({ session: this.sessionName }).catch(() => false));
      if (!stored) {
        if (!(await this.firstBackupDue(generation))) return;
        await this.storeRemoteSession({ emit: true });
      }
      if (generation !== this.generation) return;
      this.backupSync = setInterval(() => void this.storeRemoteSession(), this.backupSyncIntervalMs);
    } catch (err) {
      this.options.report({ action: 'failed', bytes: null, ms: null, message: `backup schedule: ${coerceError(err).message}` });
    }
  }

  /** Resolves true once the first backup is due, false when the session was stopped first. */
  private firstBackupDue(generation: number): Promise<boolean> {
    if (generation !== this.generation) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.firstBackup = null;
        resolve(generation === this.generation);
      }, this.options.firstDelayMs ?? FIRST_BACKUP_DELAY_MS);
      this.firstBackup = { timer, resolve };
    });
  }

  override async storeRemoteSession(options?: { emit?: boolean }): Promise<void> {
    if (this.saving || !this.sessions.savesEnabled) return;
    this.saving = true;
    const generation = this.generation;
    const started = performance.now();
    try {
      await super.storeRemoteSession(options);
      const saved = this.sessions.takeSaved();
      if (!saved) return;
      this.saves++;
      if (generation === this.generation) {
        await writeMarker(this.marker, saved.sha256);
        this.adopted = false;
      }
      this.options.report({ action: 'saved', bytes: saved.size, ms: Math.round(performance.now() - started) });
    } catch (err) {
      this.options.report({ action: 'failed', bytes: null, ms: Math.round(performance.now() - started), message: coerceError(err).message });
    } finally {
      this.saving = false;
    }
  }

  /**
   * A backup now, after the one in progress if any (a hand-over: the next node restores what this
   * one has at this moment, not the last interval's copy). True when it was stored.
   */
  async backupNow(): Promise<boolean> {
    while (this.saving) await new Promise((r) => setTimeout(r, 100));
    const before = this.saves;
    await this.storeRemoteSession();
    return this.saves > before;
  }

  /** Called by the library after a state it does not accept (before `disconnected`). */
  override async disconnect(): Promise<void> {
    if (this.lastState !== null && UNLINKED_STATES.has(this.lastState)) await this.forgetSession();
    else this.stopBackups();
  }

  override async logout(): Promise<void> {
    await this.forgetSession();
  }

  override async destroy(): Promise<void> {
    this.stopBackups();
    await super.destroy();
  }

  private stopBackups(): void {
    this.generation++;
    this.sessions.savesEnabled = false;
    clearInterval(this.backupSync);
    this.backupSync = undefined;
    if (this.firstBackup) {
      clearTimeout(this.firstBackup.timer);
      this.firstBackup.resolve(false);
      this.firstBackup = null;
    }
  }

  /** The session is unlinked: its stored copy, its marker and its profile go (RemoteAuth's disconnect). */
  private async forgetSession(): Promise<void> {
    this.stopBackups();
    await rm(this.marker, { force: true });
    try {
      await super.disconnect();
    } catch (err) {
      // The supervisor deletes the stored copy too when it sees the logout; the profile goes regardless.
      this.options.report({ action: 'failed', bytes: null, ms: null, message: `deleting the stored session: ${coerceError(err).message}` });
      await rm(this.userDataDir, { recursive: true, force: true, maxRetries: 4 }).catch(() => undefined);
    }
  }
}

async function readMarker(path: string): Promise<string | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { sha256?: unknown };
    return typeof parsed.sha256 === 'string' ? parsed.sha256 : null;
  } catch {
    return null;
  }
}

async function writeMarker(path: string, sha256: string): Promise<void> {
  await writeFile(path, `${JSON.stringify({ sha256, at: new Date().toISOString() })}\n`, { mode: 0o600 });
}
