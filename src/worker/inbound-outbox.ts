import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageEventPayload } from './protocol.js';

/** What the file keeps at most: past it the oldest go (a supervisor that confirms nothing for this long is gone). */
const KEPT_MAX = 2_000;
const FILE = 'inbound-pending.json';

/**
 * The worker's record of the messages it reported and the supervisor has not yet confirmed as
 * committed: a file in the instance's own folder (`session-<id>/inbound-pending.json`, owner-only
 * like the folder). WhatsApp Web hands a message over once; a supervisor killed between the report
 * and its journal's commit would lose it. Each report is written here first, removed when the
 * supervisor confirms it (`inbound_recorded`), and reported again by the next start of the worker
 * on this folder; the supervisor records a WhatsApp id once, so a repeat changes nothing.
 */
export class InboundOutbox {
  private readonly path: string;
  private readonly entries = new Map<string, MessageEventPayload>();

  constructor(folder: string) {
    this.path = join(folder, FILE);
    try {
      const saved = JSON.parse(readFileSync(this.path, 'utf8')) as MessageEventPayload[];
      for (const p of Array.isArray(saved) ? saved : []) if (p && typeof p.id === 'string') this.entries.set(p.id, p);
    } catch {
      // none yet, or unreadable: nothing to report again
    }
  }

  /** Reports not confirmed yet, oldest first (what a new start reports again). */
  pending(): MessageEventPayload[] {
    return [...this.entries.values()];
  }

  add(payload: MessageEventPayload): void {
    this.entries.delete(payload.id);
    this.entries.set(payload.id, payload);
    while (this.entries.size > KEPT_MAX) this.entries.delete(this.entries.keys().next().value!);
    this.save();
  }

  confirm(ids: readonly string[]): void {
    let changed = false;
    for (const id of ids) changed = this.entries.delete(id) || changed;
    if (changed) this.save();
  }

  /** Written whole to a temporary file and renamed over the old one: a crash leaves one or the other. */
  private save(): void {
    try {
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.entries.values()]), { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch {
      // The folder is gone (removed, logged out): nothing left to keep.
    }
  }
}
