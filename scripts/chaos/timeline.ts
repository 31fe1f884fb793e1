import { sleep } from '../../lib/timeout.js';
import type { InstanceSummary } from '../support/api-client.js';

export interface Observation {
  at: number;
  status: string;
  health: string;
  workerPid: number | null;
  browserPid: number | null;
  /** What the supervisor said of its database in that answer. */
  database: 'up' | 'down';
}

const UNWELL = new Set(['degraded', 'zombie', 'stuck', 'corrupted']);

/**
 * Watches the fleet through the public API (`GET /api/instances` every `intervalMs`) and keeps
 * what each instance looked like when. Detection and recovery times are read off this timeline:
 * the supervisor is a black box here. While the supervisor is down the timeline has a gap. With
 * several nodes `read` asks every node and keeps each instance as its owner sees it (target.ts).
 */
export class Timeline {
  private readonly byId = new Map<string, Observation[]>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  latest: InstanceSummary[] | null = null;
  /** Request time of the newest sample. */
  private newest = 0;
  /** Slowest answer of `GET /api/instances` seen, in ms: how responsive the API stayed through the faults. */
  slowestAnswerMs = 0;

  constructor(
    private readonly read: () => Promise<{ database: 'up' | 'down'; instances: InstanceSummary[] }>,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.sample();
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async sample(): Promise<void> {
    try {
      const asked = Date.now();
      const { database, instances } = await this.read();
      // The answer shows the fleet at some moment between the request and the reply: the request's
      // time, so a state is never dated after the change that ended it.
      const at = asked;
      this.slowestAnswerMs = Math.max(this.slowestAnswerMs, Date.now() - asked);
      this.newest = Math.max(this.newest, at);
      this.latest = instances;
      for (const i of instances) {
        const list = this.byId.get(i.id) ?? [];
        list.push({ at, status: i.connectionStatus, health: i.health, workerPid: i.worker?.pid ?? null, browserPid: i.worker?.browserPid ?? null, database });
        // A long run keeps only the recent past: measurements look back one fault at most.
        if (list.length > 20_000) list.splice(0, 10_000);
        this.byId.set(i.id, list);
      }
    } catch {
      this.latest = null;
    }
  }

  /**
   * Waits until the timeline holds a sample asked for at or after `t` (at most `timeoutMs`): what
   * another poller saw at `t` is then on the timeline too, and measurements can be read off it.
   */
  async reach(t: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.newest < t && Date.now() < deadline) await sleep(50);
  }

  /**
   * When the supervisor first showed it had noticed a fault injected at `since` into an instance
   * whose worker was `pidBefore`: the instance left CONNECTED, turned unwell, or got a new worker.
   */
  detectedAt(id: string, since: number, pidBefore: number | null): number | null {
    const seen = (this.byId.get(id) ?? []).find(
      (o) => o.at >= since && (o.status !== 'CONNECTED' || UNWELL.has(o.health) || (o.workerPid !== null && o.workerPid !== pidBefore)),
    );
    return seen?.at ?? null;
  }

  /**
   * First time at or after `since` the instance was back: CONNECTED, not judged unwell, on a worker
   * other than `pidBefore` (any worker when null).
   */
  connectedAt(id: string, since: number, pidBefore: number | null): number | null {
    const seen = (this.byId.get(id) ?? []).find(
      (o) => o.at >= since && o.status === 'CONNECTED' && !UNWELL.has(o.health) && o.workerPid !== null && (pidBefore === null || o.workerPid !== pidBefore),
    );
    return seen?.at ?? null;
  }

  /**
   * What the instance went through from `from` to `to`, as changes only: `[ms after from, status,
   * health, worker pid]`. Kept in the report, so a fault's numbers can be checked against it.
   */
  changes(id: string, from: number, to: number): Array<[number, string, string, number | null]> {
    const out: Array<[number, string, string, number | null]> = [];
    let last = '';
    for (const o of this.byId.get(id) ?? []) {
      if (o.at < from || o.at > to) continue;
      const key = `${o.status}/${o.health}/${o.workerPid}`;
      if (key !== last) out.push([o.at - from, o.status, o.health, o.workerPid]);
      last = key;
    }
    return out;
  }

  /** The samples of an instance taken between `from` and `to`: the evidence a window is judged on. */
  between(id: string, from: number, to: number): Observation[] {
    return (this.byId.get(id) ?? []).filter((o) => o.at >= from && o.at <= to);
  }
}

/**
 * What a window of samples shows of one instance that must not be disturbed: every sample
 * CONNECTED on the same worker and browser it had before. Returns the disturbances, one per kind.
 */
export function disturbances(samples: readonly Observation[], before: { workerPid: number | null; browserPid: number | null }): string[] {
  const found = new Set<string>();
  for (const o of samples) {
    if (o.status !== 'CONNECTED') found.add(`left CONNECTED (${o.status})`);
    if (o.workerPid !== before.workerPid) found.add(`worker ${before.workerPid} → ${o.workerPid}`);
    if (o.browserPid !== before.browserPid) found.add(`browser ${before.browserPid} → ${o.browserPid}`);
  }
  return [...found];
}
