import type { ConnectionStatus } from '../../../src/domain/instance.js';
import type { ConnectionUpdateEvent, FleetEventBus, QrCodeUpdatedEvent } from '../../../src/supervisor/event-bus.js';

interface Waiter {
  test: (e: ConnectionUpdateEvent) => boolean;
  resolve: (e: ConnectionUpdateEvent) => void;
}

export class StatusWaitTimeoutError extends Error {
  readonly code = 'STATUS_WAIT_TIMEOUT';
  constructor(id: string, statuses: readonly ConnectionStatus[], timeoutMs: number, last: ConnectionUpdateEvent | undefined) {
    super(`${id} reached no ${statuses.join('/')} within ${timeoutMs} ms (last: ${last ? `${last.status} (${last.reason})` : 'none'})`);
  }
}

/**
 * Everything a fleet said about its connections, kept with the fleet's own timestamps: the benches
 * time from the `at` of `connection.update`, which is when the status setter ran, not when a
 * poll happened to look.
 */
export class FleetWatch {
  readonly updates: ConnectionUpdateEvent[] = [];
  readonly qrs: QrCodeUpdatedEvent[] = [];
  private waiters: Waiter[] = [];
  private readonly unsubscribe: Array<() => void>;

  constructor(bus: FleetEventBus) {
    this.unsubscribe = [
      bus.on('connection.update', (e) => {
        this.updates.push(e);
        this.waiters = this.waiters.filter((w) => (w.test(e) ? (w.resolve(e), false) : true));
      }),
      bus.on('qrcode.updated', (e) => this.qrs.push(e)),
    ];
  }

  /** QR codes shown since `since` (epoch ms), for one instance or all. */
  qrCount(since = 0, id?: string): number {
    return this.qrs.filter((q) => q.at.getTime() >= since && (id === undefined || q.instanceId === id)).length;
  }

  /** The first update of `id` to one of `statuses` at or after `since` (epoch ms), already seen or still to come. */
  waitFor(id: string, statuses: readonly ConnectionStatus[], since: number, timeoutMs: number): Promise<ConnectionUpdateEvent> {
    const test = (e: ConnectionUpdateEvent) => e.instanceId === id && statuses.includes(e.status) && e.at.getTime() >= since;
    const seen = this.updates.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new StatusWaitTimeoutError(id, statuses, timeoutMs, this.updates.findLast((e) => e.instanceId === id)));
      }, timeoutMs);
      const waiter: Waiter = { test, resolve: (e) => (clearTimeout(timer), resolve(e)) };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    for (const off of this.unsubscribe) off();
  }
}
