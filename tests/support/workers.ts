import { chmodSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../src/config/settings.js';
import { WorkerHandle } from '../../src/worker/handle.js';
import type { WorkerEvent, WorkerInit } from '../../src/worker/protocol.js';
import { resolveWorkerUser, type WorkerUser } from '../../src/worker/worker-user.js';

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

/**
 * A fresh session root for one test file, inside the run's scratch folder. Others may pass
 * through it (a test may nest the root one level down); used as the root itself, it becomes the
 * worker user's, owner-only, at the first launch.
 */
export function tempSessionRoot(): string {
  const dir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'sessions-'));
  chmodSync(dir, 0o711);
  return dir;
}

let workerUser: WorkerUser | null | undefined;
/** Who real workers run as in this suite: WORKER_USER (created by scripts/test.sh) when it runs as root, else null. */
export function testWorkerUser(): WorkerUser | null {
  if (workerUser === undefined) workerUser = resolveWorkerUser(process.env.WORKER_USER ?? SETTINGS.WORKER_USER.default);
  return workerUser;
}

export function fakeInit(sessionRoot: string, instanceId: string, fakeScenario: Record<string, unknown> = {}): WorkerInit {
  return {
    instanceId,
    sessionRoot,
    chromePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    cachePath: join(sessionRoot, '..', 'cache'),
    fakeWeb: true,
    browserSandbox: false,
    authTimeoutMs: 15_000,
    fakeScenario,
  };
}

const started = new Set<WorkerHandle>();

/** Starts a real worker on the fake WhatsApp Web, as the fleet would; `stopAllWorkers` in afterEach cleans up. */
export async function startFakeWorker(init: WorkerInit, startTimeoutMs = 30_000): Promise<{ handle: WorkerHandle; log: EventLog }> {
  const log = new EventLog();
  const handle = await WorkerHandle.start({ init, startTimeoutMs, onEvent: log.push, user: testWorkerUser() });
  started.add(handle);
  return { handle, log };
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...started].map((h) => h.stop(5_000)));
  started.clear();
}
