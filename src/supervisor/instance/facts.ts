import { ConnectionStatus, type Instance } from '../../domain/instance.js';
import { isNoReconnectReason } from '../reconnect-policy.js';

const ERROR_MEMORY = 50;
/** Refused worker messages recorded as events per minute; past it they are only counted. */
const INVALID_EVENTS_PER_MINUTE = 10;

/**
 * What the supervisor knows of an instance besides its status: the linked phone, the reconnect
 * attempts, the last start failure or crash, recent errors (the error budget), the QR on show,
 * a place in the boot queue, and a refusal that waits for a human. Plain facts: the handle
 * decides, this remembers.
 */
export class InstanceFacts {
  wid: string | null;
  pushName: string | null;
  attempts: number;
  lastError: string | null;
  /** A reason that forbids reconnecting (LOGOUT, BANNED, …): the instance waits for a human. */
  blockedBy: string | null;
  qr: { value: string; at: Date } | null = null;
  /** Waiting in the boot queue for its turn: like a pending reconnect, neither stuck nor due for a start. */
  bootQueued = false;
  private readonly errors: Date[] = [];
  /** When refused messages were recorded, for their own per-minute limit. */
  private readonly invalidRecorded: number[] = [];

  constructor(
    row: Pick<Instance, 'wid' | 'pushName' | 'reconnectAttempts' | 'lastError' | 'connectionStatus' | 'statusReason'>,
    private readonly now: () => Date,
  ) {
    this.wid = row.wid;
    this.pushName = row.pushName;
    this.attempts = row.reconnectAttempts;
    this.lastError = row.lastError;
    // A refusal recorded before a restart still stands: it waits for a human, not for a reboot.
    const refused = row.connectionStatus === ConnectionStatus.AUTH_FAILURE || (row.statusReason !== null && isNoReconnectReason(row.statusReason));
    this.blockedBy = refused ? (row.statusReason ?? row.connectionStatus) : null;
  }

  get recentErrors(): Date[] {
    return [...this.errors];
  }

  /** Counts an error against the instance's budget (and, with a description, as its last error). */
  recordError(description?: string): void {
    this.errors.push(this.now());
    if (this.errors.length > ERROR_MEMORY) this.errors.shift();
    if (description !== undefined) this.lastError = description.slice(0, 1_024);
  }

  /** Whether one more refused message may be recorded as an event this minute (and counts it if so). */
  takeInvalidRecord(): boolean {
    const now = this.now().getTime();
    while (this.invalidRecorded.length > 0 && this.invalidRecorded[0]! <= now - 60_000) this.invalidRecorded.shift();
    if (this.invalidRecorded.length >= INVALID_EVENTS_PER_MINUTE) return false;
    this.invalidRecorded.push(now);
    return true;
  }

  /** Linked: what READY said of the phone; the attempts start over. */
  linked(phone: { wid?: string | null | undefined; pushname?: string | null | undefined }): void {
    this.qr = null;
    this.attempts = 0;
    this.wid = phone.wid ?? this.wid;
    this.pushName = phone.pushname ?? this.pushName;
  }

  /** The saved session is gone: the linked phone's facts go with it. */
  forgetPhone(): void {
    this.wid = null;
    this.pushName = null;
    this.attempts = 0;
  }
}

/** A crash as `last_error` shows it: its kind and what came with it. */
export function describeCrash(kind: string, data: Record<string, unknown>): string {
  const detail = Object.entries(data)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return detail ? `${kind} (${detail})` : kind;
}
