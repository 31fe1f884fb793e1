import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { WorkerHandle } from '../../src/worker/handle.js';
import type { WorkerEvent, WorkerInit } from '../../src/worker/protocol.js';

export interface SeenEvent {
  event: WorkerEvent;
  payload: unknown;
  at: number;
}

/** Every event a worker reported, with a way to wait for the next matching one. */
export class EventLog {
  readonly seen: SeenEvent[] = [];
  private waiters: Array<{ match: (e: SeenEvent) => boolean; resolve: (e: SeenEvent) => void }> = [];

  push = (event: WorkerEvent, payload: unknown): void => {
    const e = { event, payload, at: Date.now() };
    this.seen.push(e);
    this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
  };

  /** A position in the log: events after it are "new". */
  mark(): number {
    return this.seen.length;
  }

  count(event: WorkerEvent, from = 0): number {
    return this.seen.slice(from).filter((e) => e.event === event).length;
  }

  /** Resolves with the first matching event at or after position `from`, already seen or still to come. */
  waitFor(
    event: WorkerEvent | WorkerEvent[],
    timeoutMs = 15_000,
    from = 0,
    match: (payload: unknown) => boolean = () => true,
  ): Promise<SeenEvent> {
    const events = Array.isArray(event) ? event : [event];
    const test = (e: SeenEvent) => events.includes(e.event) && match(e.payload);
    const already = this.seen.slice(from).find(test);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${events.join('/')} within ${timeoutMs} ms; saw ${this.seen.map((e) => e.event).join(', ')}`)), timeoutMs);
      this.waiters.push({ match: test, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }
}

/** A fresh session root for one test file, inside the run's scratch folder. */
export function tempSessionRoot(): string {
  return mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'sessions-'));
}

export function fakeInit(sessionRoot: string, instanceId: string, fakeScenario: Record<string, unknown> = {}): WorkerInit {
  return {
    instanceId,
    sessionRoot,
    chromePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    cachePath: join(sessionRoot, '..', 'cache'),
    fakeWeb: true,
    authTimeoutMs: 15_000,
    fakeScenario,
  };
}

const started = new Set<WorkerHandle>();

/** Starts a real worker on the fake WhatsApp Web; `stopAllWorkers` in afterEach cleans up. */
export async function startFakeWorker(init: WorkerInit, startTimeoutMs = 30_000): Promise<{ handle: WorkerHandle; log: EventLog }> {
  const log = new EventLog();
  const handle = await WorkerHandle.start({ init, startTimeoutMs, onEvent: log.push });
  started.add(handle);
  return { handle, log };
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...started].map((h) => h.stop(5_000)));
  started.clear();
}
