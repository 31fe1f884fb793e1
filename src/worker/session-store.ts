import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WorkerRequest } from './protocol.js';
import {
  checkedPayload,
  MAX_BACKUP_BYTES,
  PartAssembler,
  partCount,
  partOf,
  sha256Hex,
  SESSION_REPLY_SCHEMAS,
  SESSION_REQUEST_TIMEOUT_MS,
  SessionStoreError,
  type BackupMeta,
  type ExistsReply,
} from './session-transfer.js';

/** Asks the supervisor over the worker's IPC channel (the channel's `request`). */
export type AskSupervisor = (type: WorkerRequest, payload: unknown, timeoutMs: number) => Promise<unknown>;

/**
 * The `store` of whatsapp-web.js's RemoteAuth, in a worker that has no database access: each call
 * is a request to the supervisor, which keeps the backup in MySQL (session-store-host.ts). The
 * library zips the profile to `<dataPath>/<session>.zip` before `save` and reads the zip from the
 * `path` it gives `extract`; the bytes cross the channel in checked parts (session-transfer.ts).
 */
export class IpcSessionStore {
  /** False while the session is being stopped or unlinked: a save that would start then is refused. */
  savesEnabled = true;
  /** What the last successful save stored, until taken (RemoteAuth does not say whether it saved). */
  private saved: BackupMeta | null = null;
  /** What the last successful extract wrote. */
  private extracted: BackupMeta | null = null;

  constructor(
    private readonly dataPath: string,
    private readonly ask: AskSupervisor,
    private readonly maxBytes: number = MAX_BACKUP_BYTES,
  ) {}

  /** The stored copy's description, or `exists: false`. */
  async describe(session: string): Promise<ExistsReply> {
    const reply = await this.ask(WorkerRequest.SESSION_EXISTS, { session }, SESSION_REQUEST_TIMEOUT_MS);
    return checkedPayload(SESSION_REPLY_SCHEMAS.exists, reply, 'session_exists reply');
  }

  async sessionExists({ session }: { session: string }): Promise<boolean> {
    return (await this.describe(session)).exists;
  }

  /** Sends `<dataPath>/<session>.zip`, which RemoteAuth has just written. */
  async save({ session }: { session: string }): Promise<void> {
    if (!this.savesEnabled) throw new SessionStoreError('SESSION_DELETED', 'the session is being stopped or unlinked; backup not sent');
    const zip = await readFile(join(this.dataPath, `${session}.zip`));
    if (zip.length > this.maxBytes) throw new SessionStoreError('SESSION_TOO_LARGE', `the session backup is ${zip.length} bytes, over the ${this.maxBytes} allowed`);
    const sha256 = sha256Hex(zip);
    const parts = partCount(zip.length);
    for (let part = 0; part < parts; part++) {
      if (!this.savesEnabled) throw new SessionStoreError('SESSION_DELETED', 'the session is being stopped or unlinked; backup abandoned');
      const payload = { session, part, size: zip.length, sha256, data: partOf(zip, part).toString('base64') };
      const reply = checkedPayload(SESSION_REPLY_SCHEMAS.save, await this.ask(WorkerRequest.SESSION_SAVE, payload, SESSION_REQUEST_TIMEOUT_MS), 'session_save reply');
      const last = part === parts - 1;
      if (reply.stored !== last || (!last && reply.next !== part + 1)) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `the supervisor answered part ${part} of ${parts} with ${JSON.stringify({ stored: reply.stored, next: reply.next })}`);
      if (last) this.saved = { size: reply.size, sha256: reply.sha256, savedAt: reply.savedAt ?? '' };
    }
  }

  /** Fetches the stored copy, checks it, and writes it to `path` (its folder created first: the library does not). */
  async extract({ session, path }: { session: string; path: string }): Promise<void> {
    let assembler: PartAssembler | null = null;
    let savedAt = '';
    for (let part = 0; assembler === null || !assembler.complete; part++) {
      const reply = checkedPayload(SESSION_REPLY_SCHEMAS.extract, await this.ask(WorkerRequest.SESSION_EXTRACT, { session, part }, SESSION_REQUEST_TIMEOUT_MS), 'session_extract reply');
      assembler ??= new PartAssembler(reply.size, reply.sha256, this.maxBytes);
      if (reply.part !== part || reply.parts !== assembler.parts || !assembler.matches(reply.size, reply.sha256)) {
        throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${reply.part}/${reply.parts} of ${reply.size} bytes came for part ${part}/${assembler.parts} of ${assembler.size}`);
      }
      assembler.add(part, Buffer.from(reply.data, 'base64'));
      savedAt = reply.savedAt;
    }
    const zip = assembler.finish();
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, zip, { mode: 0o600 });
    this.extracted = { size: zip.length, sha256: assembler.sha256, savedAt };
  }

  async delete({ session }: { session: string }): Promise<void> {
    checkedPayload(SESSION_REPLY_SCHEMAS.delete, await this.ask(WorkerRequest.SESSION_DELETE, { session }, SESSION_REQUEST_TIMEOUT_MS), 'session_delete reply');
  }

  /** What the last save stored, once; null when nothing was saved since. */
  takeSaved(): BackupMeta | null {
    const saved = this.saved;
    this.saved = null;
    return saved;
  }

  /** What the last extract wrote, once. */
  takeExtracted(): BackupMeta | null {
    const extracted = this.extracted;
    this.extracted = null;
    return extracted;
  }
}
