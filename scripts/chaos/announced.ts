import { sleep } from '../../lib/timeout.js';
import type { ApiClient } from '../support/api-client.js';

/** A status change the supervisor announced on its event stream. */
export interface Announced {
  instanceId: string;
  status: string;
  at: number;
}

/**
 * Listens to `GET /api/events` for the whole run and keeps every `connection.update`: what the
 * supervisor told the world happened. Across a supervisor restart the stream is reopened; what
 * was announced while it was closed is simply not heard (the check below only asks that what was
 * heard was recorded).
 */
export class AnnouncedChanges {
  readonly changes: Announced[] = [];
  private controller = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly api: ApiClient) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.listen().catch(() => undefined);
        if (this.running) await sleep(500);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.controller.abort();
    await this.loop;
  }

  private async listen(): Promise<void> {
    this.controller = new AbortController();
    const res = await fetch(`${this.api.base}/api/events`, { headers: { 'x-api-key': this.api.key }, signal: this.controller.signal });
    if (!res.ok || !res.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = res.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        this.take(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
      }
    }
  }

  private take(message: string): void {
    const name = /^event: (.+)$/m.exec(message)?.[1];
    const data = /^data: (.+)$/m.exec(message)?.[1];
    if (name !== 'connection.update' || !data) return;
    const payload = JSON.parse(data) as { instanceId: string; status: string };
    this.changes.push({ instanceId: payload.instanceId, status: payload.status, at: Date.now() });
  }
}

/**
 * Every status change announced must be in the instance's recorded history, in the order it was
 * announced: `recorded` holds each instance's `to_status` values by `seq`. A change announced and
 * never written (lost in the journal, dropped while the database was away) leaves the announced
 * list without a match. Returns the violations and how many announced changes were checked.
 */
export function unrecordedChanges(announced: readonly Announced[], recorded: ReadonlyMap<string, readonly string[]>): { violations: string[]; checked: number } {
  const violations: string[] = [];
  const byInstance = new Map<string, string[]>();
  for (const a of announced) byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a.status]);
  for (const [id, statuses] of byInstance) {
    const history = recorded.get(id) ?? [];
    let at = 0;
    for (const [k, status] of statuses.entries()) {
      while (at < history.length && history[at] !== status) at++;
      if (at === history.length) {
        violations.push(`${id}: announced change #${k + 1} to ${status} (of ${statuses.length}) is not in its recorded events in order`);
        break;
      }
      at++;
    }
  }
  return { violations, checked: announced.length };
}
