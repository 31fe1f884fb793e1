import { clusterRows, type FenceRefusal } from '../db/cluster-repository.js';
import type { Connection } from '../db/pool.js';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';

/** Counters since start, per node, for /metrics and GET /api/nodes. */
export interface LeaseStats {
  /** Leases taken (new instances, free ones, a dead or departed node's). */
  claims: number;
  /** Claims of an instance another node held before: it moved here. */
  failovers: number;
  /** Leases this node lost without giving them up (not renewed in time, taken over). */
  losses: number;
  /** Leases given back on purpose (drain, graceful stop, disable). */
  handovers: number;
  /** Writes the database refused because the lease they named was not this node's any more. */
  fencingRefusals: number;
  /** Times the node stopped every browser because it could not renew in time. */
  selfFences: number;
}

/**
 * CLUSTER=on: the leases this node holds (instance → fencing epoch), the one thing the journal
 * asks before it writes for an instance, and the counters of what happened to them. Holding a
 * lease here means: this node runs the instance and writes for it under that epoch.
 */
export class Leases {
  private readonly held = new Map<string, number>();
  /** When this node must have stopped its browsers (monotonic ms), from its last renewal; null before one. */
  private fenceAt: number | null = null;
  readonly stats: LeaseStats = { claims: 0, failovers: 0, losses: 0, handovers: 0, fencingRefusals: 0, selfFences: 0 };

  constructor(
    readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** Set after each renewal: the fence deadline it bought (placement.ts fenceDeadline). */
  renewedUntil(fenceAt: number): void {
    this.fenceAt = fenceAt;
  }

  /** Time left before the fence deadline, for a worker's own lease timer; 0 when none was bought yet. */
  remainingMs(now: number = performance.now()): number {
    return this.fenceAt === null ? 0 : Math.max(0, Math.floor(this.fenceAt - now));
  }

  epochOf(id: string): number | null {
    return this.held.get(id) ?? null;
  }

  holds(id: string): boolean {
    return this.held.has(id);
  }

  hold(id: string, epoch: number): void {
    this.held.set(id, epoch);
  }

  drop(id: string): void {
    this.held.delete(id);
  }

  get size(): number {
    return this.held.size;
  }

  /** instance → epoch, a copy. */
  snapshot(): Map<string, number> {
    return new Map(this.held);
  }

  /**
   * In the journal's transaction, before a node's own write for an instance: refused with
   * LEASE_LOST (counted and logged) unless the database says this node holds the live lease
   * under the epoch it believes it holds. The row stays locked to the commit.
   */
  async check(conn: Connection, instanceId: string, what: string): Promise<void> {
    const epoch = this.held.get(instanceId);
    const refusal: FenceRefusal | null = epoch === undefined ? 'owner' : await clusterRows.fence(conn, instanceId, this.nodeId, epoch);
    // A removed row is no lease question: the write finds no row, as it would on one node.
    if (refusal === null || refusal === 'gone') return;
    this.stats.fencingRefusals++;
    this.log.warn(`write refused by fencing: ${what} (${REFUSAL[refusal]})`, { instanceId, epoch: epoch ?? null, refusal });
    throw new AppError('LEASE_LOST', `node ${this.nodeId} no longer holds the lease of "${instanceId}" (${REFUSAL[refusal]}); ${what} not written`);
  }
}

const REFUSAL: Record<FenceRefusal, string> = {
  gone: 'the instance was removed',
  owner: 'another node or no node holds it',
  epoch: 'it was claimed again since',
  expired: 'the lease lapsed',
};
