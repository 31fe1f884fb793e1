import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CodedError } from '../../lib/errors.js';

/*
 * How a session backup crosses the worker's IPC channel (SESSION_STORE=mysql). The backup is the
 * zip whatsapp-web.js's RemoteAuth makes of the profile (Default/IndexedDB and Default/Local
 * Storage, deflated): already compressed, stored as is. It crosses in parts of at most PART_BYTES
 * (base64 in JSON, as media does), so no single IPC message is large however big the profile is:
 * the supervisor's event loop parses at most ~5.6 MB at a time. Both sides check every part, the
 * total size and the SHA-256 of the whole. Pure: no files, no channel, no database.
 */

/** Raw bytes per IPC part (base64 makes it ~5.6 MB on the wire). */
export const PART_BYTES = 4 * 1024 * 1024;

/**
 * Largest backup accepted. The zip of a real WhatsApp Web profile is tens of MB (its IndexedDB);
 * the supervisor holds one whole backup in memory while it writes or reads it (src/db/blob-chunks.ts
 * takes a Buffer), so this bounds that memory per transfer.
 */
export const MAX_BACKUP_BYTES = 256 * 1024 * 1024;

/** Time one session request has to be answered (the last part of a save includes the MySQL write). */
export const SESSION_REQUEST_TIMEOUT_MS = 120_000;

/**
 * Wait between `ready` and the first backup of a session that has no stored copy. whatsapp-web.js
 * 1.34.7's RemoteAuth hard-codes it ("for the session to be stable enough to recover"); kept.
 */
export const FIRST_BACKUP_DELAY_MS = 60_000;

/** RemoteAuth refuses a backupSyncIntervalMs below this. */
export const MIN_BACKUP_INTERVAL_MS = 60_000;

export type SessionStoreErrorCode =
  /** The session named is not the asking worker's own instance's. */
  | 'SESSION_FORBIDDEN'
  | 'SESSION_TOO_LARGE'
  /** A part out of order, a size or SHA-256 that does not add up, a stored copy that does not match its own checksum. */
  | 'SESSION_TRANSFER_FAILED'
  | 'SESSION_NOT_FOUND'
  /** The stored copy was deleted (logout) while this backup was on its way: it is not written. */
  | 'SESSION_DELETED';

/** Travels over IPC as name, message and code (lib/errors.ts); never reaches an HTTP client. */
export class SessionStoreError extends CodedError {
  constructor(code: SessionStoreErrorCode, message: string) {
    super(code, message);
  }
}

export const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Parts a backup of `size` bytes crosses in (an empty one is still one part). */
export function partCount(size: number): number {
  return Math.max(1, Math.ceil(size / PART_BYTES));
}

/** Part `index` of `data`. */
export function partOf(data: Buffer, index: number): Buffer {
  return data.subarray(index * PART_BYTES, (index + 1) * PART_BYTES);
}

/** What describes one stored backup, on both sides. */
export interface BackupMeta {
  size: number;
  sha256: string;
  /** ISO time the supervisor stored it. */
  savedAt: string;
}

/**
 * Puts a backup back together from its parts, strictly in order, and checks the whole against the
 * size and SHA-256 announced with every part. Any deviation throws SESSION_TRANSFER_FAILED.
 */
export class PartAssembler {
  private readonly chunks: Buffer[] = [];
  private received = 0;

  constructor(
    readonly size: number,
    readonly sha256: string,
    maxBytes: number = MAX_BACKUP_BYTES,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `not a size: ${size}`);
    if (size > maxBytes) throw new SessionStoreError('SESSION_TOO_LARGE', `the session backup is ${size} bytes, over the ${maxBytes} allowed`);
  }

  get parts(): number {
    return partCount(this.size);
  }

  /** The index of the next part expected. */
  get next(): number {
    return this.chunks.length;
  }

  get complete(): boolean {
    return this.chunks.length === this.parts;
  }

  /** Whether a part announcing (size, sha256) belongs to this transfer. */
  matches(size: number, sha256: string): boolean {
    return size === this.size && sha256 === this.sha256;
  }

  add(index: number, data: Buffer): void {
    if (index !== this.next) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${index} arrived, part ${this.next} was expected`);
    if (index >= this.parts) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${index} of a ${this.parts}-part backup`);
    const last = index === this.parts - 1;
    const expected = last ? this.size - index * PART_BYTES : PART_BYTES;
    if (data.length !== expected) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `part ${index} holds ${data.length} bytes, not ${expected}`);
    this.chunks.push(data);
    this.received += data.length;
  }

  /** The whole backup, once every part is in and the checksum matches. */
  finish(): Buffer {
    if (!this.complete) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `${this.next} of ${this.parts} parts received`);
    const whole = Buffer.concat(this.chunks, this.received);
    if (whole.length !== this.size) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `${whole.length} bytes received, ${this.size} announced`);
    const actual = sha256Hex(whole);
    if (actual !== this.sha256) throw new SessionStoreError('SESSION_TRANSFER_FAILED', `SHA-256 ${actual.slice(0, 12)}… does not match the announced ${this.sha256.slice(0, 12)}…`);
    return whole;
  }
}

/* The requests and replies, checked where they arrive (the supervisor trusts no worker). */

const session = z.string().min(1).max(128);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'not a SHA-256 in hex');
const size = z.number().int().min(0).max(MAX_BACKUP_BYTES);
const part = z.number().int().min(0).max(partCount(MAX_BACKUP_BYTES));
const base64Part = z
  .string()
  .max(Math.ceil(PART_BYTES / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');
const savedAt = z.string().max(40);

export const SESSION_REQUEST_SCHEMAS = {
  exists: z.object({ session }),
  save: z.object({ session, part, size, sha256, data: base64Part }),
  extract: z.object({ session, part }),
  delete: z.object({ session }),
} as const;

export const SESSION_REPLY_SCHEMAS = {
  exists: z.object({ exists: z.boolean(), size: size.nullable(), sha256: sha256.nullable(), savedAt: savedAt.nullable() }),
  /** `stored` once the last part is in and written; `next` is the part to send next otherwise. */
  save: z.object({ stored: z.boolean(), next: part.nullable(), size, sha256, savedAt: savedAt.nullable() }),
  extract: z.object({ part, parts: part, size, sha256, savedAt, data: base64Part }),
  delete: z.object({ deleted: z.boolean() }),
} as const;

export type ExistsReply = z.infer<typeof SESSION_REPLY_SCHEMAS.exists>;
export type SaveRequest = z.infer<typeof SESSION_REQUEST_SCHEMAS.save>;
export type SaveReply = z.infer<typeof SESSION_REPLY_SCHEMAS.save>;
export type ExtractReply = z.infer<typeof SESSION_REPLY_SCHEMAS.extract>;

/** A payload checked against `schema`, or SESSION_TRANSFER_FAILED naming the first problem. */
export function checkedPayload<S extends z.ZodType>(schema: S, payload: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  throw new SessionStoreError('SESSION_TRANSFER_FAILED', `${what} refused: ${where}: ${issue?.message ?? 'invalid'}`);
}
