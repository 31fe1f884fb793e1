import { randomBytes } from 'node:crypto';
import { coerceError } from '../../lib/errors.js';
import { withTimeout } from '../../lib/timeout.js';
import { clusterRows, type NodeRow, type NodeState } from '../db/cluster-repository.js';
import { idleTransactionLimit, type Pool } from '../db/pool.js';
import { Category, type Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { Leases } from './leases.js';
import { claimQuota, compareLeases, fenceDeadline, mustSelfFence } from './placement.js';

export interface ClusterNodeOptions {
  pool: Pool;
  fleet: Fleet;
  leases: Leases;
  log: Logger;
  /** NODE_URL, resolved once the API listens (PORT=0 picks its port then). */
  url: () => string;
  maxInstances: number;
  leaseTtlMs: number;
  leaseRenewMs: number;
  version: string;
  /** Monotonic clock in ms (performance.now): it runs on while the process is stopped, which is the point. */
  now?: () => number;
}

/** Instances handed over at once by a drain or a graceful stop. */
const HANDOVER_CONCURRENCY = 8;

/**
 * CLUSTER=on: this supervisor as one node among several on the same MySQL. Every LEASE_RENEW_MS,
 * on a fixed cadence, the renewal renews the node's heartbeat and leases, kills the workers of
 * leases it lost and tells the others how long they hold; then a placement pass, which never holds
 * up a renewal, claims its share of free instances (placement.ts) and marks nodes that stopped
 * renewing as down. A watchdog on the monotonic clock stops every browser of the node once its
 * leases could lapse for the others (a node paused, partitioned or cut from MySQL: self-fencing),
 * whatever the renewals are doing. Drain
 * and a graceful stop hand instances over instead of letting leases lapse.
 */
export class ClusterNode {
  readonly incarnation = randomBytes(16).toString('hex');
  private state: NodeState = 'up';
  /** When the last successful renewal began, on the monotonic clock; null before the first. */
  private lastRenewStartedAt: number | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private watchdog: NodeJS.Timeout | null = null;
  private placing: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Another process took this NODE_ID: this one runs nothing any more. */
  private replaced = false;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Nodes this one has seen go down (node.down announced by it). */
  nodesDown = 0;

  constructor(private readonly options: ClusterNodeOptions) {
    this.now = options.now ?? (() => performance.now());
    this.log = options.log.child({ category: Category.SYSTEM });
    options.fleet.attachPlacement({
      unplaced: () => this.wake(),
      released: (id) => this.giveBack(id),
    });
  }

  get nodeId(): string {
    return this.options.leases.nodeId;
  }

  get currentState(): NodeState {
    return this.state;
  }

  /** Takes the node's row (leases of an earlier life given back), then renews and places. */
  async start(): Promise<void> {
    const { pool, leases } = this.options;
    const startedAt = this.now();
    const released = await clusterRows.register(pool, {
      id: leases.nodeId,
      url: this.options.url(),
      incarnation: this.incarnation,
      maxInstances: this.options.maxInstances,
      leaseTtlMs: this.options.leaseTtlMs,
      version: this.options.version,
    });
    this.lastRenewStartedAt = startedAt;
    leases.renewedUntil(fenceDeadline(startedAt, this.options.leaseTtlMs, this.options.leaseRenewMs));
    this.log.info(`node ${leases.nodeId} joined (${this.options.url()}); ${released} lease(s) of an earlier run given back`);
    if ((await idleTransactionLimit(pool)) === null) {
      this.log.warn(
        'this database has no idle_transaction_timeout (MySQL): a node paused inside a transaction keeps that instance until it resumes or its connection drops; use MariaDB 10.6+ to have the server end it within half the TTL',
      );
    }
    const every = Math.max(50, Math.min(250, Math.floor(this.options.leaseRenewMs / 4)));
    this.watchdog = setInterval(() => this.checkFence(), every);
    this.watchdog.unref();
    this.renewTimer = setInterval(() => void this.renew(), this.options.leaseRenewMs);
    this.renewTimer.unref();
    void this.renew();
  }

  /**
   * A placement pass (claims, dead nodes) now, or right after the one in flight. Placement never
   * holds up a renewal: the renewal runs on its own fixed cadence, whatever a claim costs.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.placing) {
      this.again = true;
      return;
    }
    this.placing = this.place().finally(() => {
      this.placing = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake();
      }
    });
  }

  /**
   * Every LEASE_RENEW_MS from the start, not from the end of the last one: the heartbeat and the
   * renewal alone, then the leases it lost, then the workers told. A renewal still in flight when
   * the next is due makes that one skip; one that answers past the fence deadline does not count.
   */
  private async renew(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    const { pool, leases, leaseTtlMs, leaseRenewMs } = this.options;
    const started = this.now();
    // Checked first: a node thawed after a long pause stops its browsers before anything else.
    this.checkFence();
    try {
      // Each statement may take what is left before the fence (a loaded database is slow, not gone);
      // an answer after it does not count.
      const left = () => Math.max(1, Math.floor(fenceDeadline(started, leaseTtlMs, leaseRenewMs) - this.now()));
      const alive = await withTimeout(clusterRows.heartbeat(pool, leases.nodeId, this.incarnation, this.state), left(), 'the heartbeat');
      if (!alive) return this.onReplaced();
      const read = await withTimeout(clusterRows.renew(pool, leases.nodeId, leaseTtlMs), left(), 'the lease renewal');
      if (mustSelfFence(this.now(), started, leaseTtlMs, leaseRenewMs)) return; // renewed too late to count
      this.lastRenewStartedAt = started;
      leases.renewedUntil(fenceDeadline(started, leaseTtlMs, leaseRenewMs));
      // Each worker hears it too: frozen, this process could not stop them; they stop themselves.
      this.options.fleet.leaseWorkers(leases.remainingMs(this.now()));
      await this.reconcile(read);
      this.wake();
    } catch (err) {
      this.log.warn(`lease renewal failed: ${coerceError(err).message}`);
    } finally {
      this.renewing = false;
    }
  }

  private async place(): Promise<void> {
    try {
      if (this.state === 'up' && !this.replaced) await this.claim();
      await this.markDeadNodes();
    } catch (err) {
      this.log.warn(`placement failed: ${coerceError(err).message}`);
    }
  }

  /** Leases the database no longer gives this node are lost; leases it holds unknowingly go back. */
  private async reconcile(read: Map<string, number>): Promise<void> {
    const { leases, fleet, pool } = this.options;
    const { lost, unknown } = compareLeases(leases.snapshot(), read);
    for (const id of lost) {
      leases.stats.losses++;
      void fleet.relinquish(id, 'another node holds it now');
    }
    for (const { id, epoch } of unknown) await clusterRows.release(pool, leases.nodeId, id, epoch);
  }

  private async claim(): Promise<void> {
    const { pool, leases, fleet, leaseTtlMs, maxInstances } = this.options;
    const nodes = await clusterRows.nodes(pool);
    const up = nodes
      .filter((n) => n.alive && n.state === 'up')
      .map((n) => ({ id: n.id, load: n.id === leases.nodeId ? leases.size : n.load, capacity: n.id === leases.nodeId ? maxInstances : n.maxInstances }));
    const free = await clusterRows.freeCount(pool);
    const quota = claimQuota(leases.nodeId, up, free);
    if (quota === 0) return;
    const claimed = await clusterRows.claim(pool, leases.nodeId, leaseTtlMs, quota);
    for (const c of claimed) {
      leases.stats.claims++;
      if (c.from !== null && c.from !== leases.nodeId) leases.stats.failovers++;
      this.log.info(`claimed ${c.id} (epoch ${c.epoch}${c.from ? `, from ${c.from}` : ''})`, { instanceId: c.id });
      fleet.takeOver(c.id, c.epoch, c.from).catch((err: unknown) => this.log.error(`taking over failed: ${coerceError(err).message}`, { instanceId: c.id }));
    }
  }

  /** Nodes that stopped renewing are marked down once, by whichever survivor sees it first, and announced. */
  private async markDeadNodes(): Promise<void> {
    const dead = await clusterRows.markDead(this.options.pool);
    for (const d of dead) {
      this.nodesDown++;
      this.log.warn(`node ${d.id} is down (last heartbeat ${d.heartbeatAt.toISOString()}); its ${d.instances} instance(s) move`);
      const payload = { instanceId: null, node: d.id, instances: d.instances, lastHeartbeatAt: d.heartbeatAt, at: new Date() };
      void this.options.fleet.journal.record({ instanceId: null, notify: [{ name: 'node.down', payload }] });
    }
  }

  /** The watchdog: past the fence deadline every browser of the node is stopped, before anyone else may start it. */
  private checkFence(): void {
    const { leases, fleet, leaseTtlMs, leaseRenewMs } = this.options;
    if (leases.size === 0 || !mustSelfFence(this.now(), this.lastRenewStartedAt, leaseTtlMs, leaseRenewMs)) return;
    leases.stats.selfFences++;
    const ids = [...leases.snapshot().keys()];
    this.log.error(`leases not renewed for ${Math.round(this.now() - (this.lastRenewStartedAt ?? 0))} ms: stopping all ${ids.length} browser(s) before the leases lapse (self-fencing)`);
    for (const id of ids) {
      leases.stats.losses++;
      void fleet.relinquish(id, 'not renewed in time');
    }
  }

  private onReplaced(): void {
    if (this.replaced) return;
    this.replaced = true;
    this.log.error(`another process started as node ${this.nodeId}: this one stops running instances (give every node its own NODE_ID)`);
    for (const id of this.options.leases.snapshot().keys()) void this.options.fleet.relinquish(id, 'NODE_ID taken by another process');
  }

  /** An instance this node stopped on purpose (disabled): its lease goes back at once. */
  private async giveBack(id: string): Promise<void> {
    const { leases, pool } = this.options;
    const epoch = leases.epochOf(id);
    leases.drop(id);
    if (epoch === null) return;
    if (await clusterRows.release(pool, leases.nodeId, id, epoch).catch(() => false)) leases.stats.handovers++;
  }

  /** Hands one instance over: polite stop with its status recorded, then the lease back. */
  private async handOver(id: string): Promise<void> {
    const epoch = this.options.leases.epochOf(id);
    await this.options.fleet.handOver(id);
    if (epoch === null) return;
    this.options.leases.drop(id);
    if (await clusterRows.release(this.options.pool, this.nodeId, id, epoch)) this.options.leases.stats.handovers++;
  }

  private async handOverAll(): Promise<number> {
    const ids = this.options.fleet.heldIds();
    const queue = [...ids];
    const lane = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        await this.handOver(id).catch((err: unknown) => this.log.error(`hand-over failed: ${coerceError(err).message}`, { instanceId: id }));
      }
    };
    await Promise.all(Array.from({ length: HANDOVER_CONCURRENCY }, lane));
    return ids.length;
  }

  /** POST /api/nodes/:id/drain: no more claims; every instance is handed over to the other nodes. */
  async drain(): Promise<number> {
    this.state = 'draining';
    await clusterRows.setState(this.options.pool, this.nodeId, this.incarnation, 'draining').catch((err: unknown) => this.log.warn(`the node's state could not be written: ${coerceError(err).message}`));
    const moved = await this.handOverAll();
    this.log.info(`drained: ${moved} instance(s) handed over`);
    return moved;
  }

  /** Ends a drain: the node claims instances again. */
  async resume(): Promise<void> {
    this.state = 'up';
    await clusterRows.setState(this.options.pool, this.nodeId, this.incarnation, 'up');
    this.wake();
  }

  /**
   * Graceful stop: no more claims, every instance handed over (the leases still renewed meanwhile,
   * so none lapses under a slow hand-over), then the loops stop and the node is marked stopped.
   */
  async stop(): Promise<void> {
    this.state = 'draining';
    await clusterRows.setState(this.options.pool, this.nodeId, this.incarnation, 'draining').catch(() => undefined);
    await this.placing;
    const moved = await this.handOverAll();
    this.stopped = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.placing;
    await clusterRows.setState(this.options.pool, this.nodeId, this.incarnation, 'stopped').catch(() => undefined);
    this.log.info(`node ${this.nodeId} stopped: ${moved} instance(s) handed over`);
  }

  /** Every node's row, for GET /api/nodes. */
  nodes(): Promise<NodeRow[]> {
    return clusterRows.nodes(this.options.pool);
  }
}
