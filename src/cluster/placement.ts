/*
 * Placement and lease timing as pure functions over plain data: which free instances a node takes
 * this round, and when a node that could not renew must stop its browsers. The cluster node's loop
 * (cluster-node.ts) reads the database, asks these, and acts.
 */

/** A node as placement sees it: live and accepting (state `up`), what it holds, what it may hold. */
export interface NodeLoad {
  id: string;
  load: number;
  capacity: number;
}

/**
 * How many of `free` unowned instances node `me` claims this round. The free instances are dealt
 * one at a time to the least-loaded node under its capacity (ties to the smaller id), as every node
 * would compute from the same reading; `me`'s share is what lands on it. Nodes that read slightly
 * different numbers may over- or under-claim by a few in one round (SKIP LOCKED keeps them from
 * taking the same row); the next round corrects it. 0 when `me` is not among the nodes.
 */
export function claimQuota(me: string, nodes: readonly NodeLoad[], free: number): number {
  const loads = nodes.map((n) => ({ ...n }));
  if (!loads.some((n) => n.id === me)) return 0;
  let mine = 0;
  for (let i = 0; i < free; i++) {
    let pick: (typeof loads)[number] | null = null;
    for (const n of loads) {
      if (n.load >= n.capacity) continue;
      if (!pick || n.load < pick.load || (n.load === pick.load && n.id < pick.id)) pick = n;
    }
    if (!pick) break;
    pick.load++;
    if (pick.id === me) mine++;
  }
  return mine;
}

/**
 * Self-fencing: a node whose last successful renewal *began* at `lastRenewStartedAt` (its own
 * monotonic clock) must have stopped its browsers one renewal interval before the lease can lapse
 * for the others. The lease was set from the database's clock after that start, so stopping at
 * start + TTL − renew is early by at least one interval whatever the two clocks say.
 */
export function fenceDeadline(lastRenewStartedAt: number, ttlMs: number, renewMs: number): number {
  return lastRenewStartedAt + ttlMs - renewMs;
}

/** True when the node must stop every browser it runs now (see fenceDeadline). */
export function mustSelfFence(now: number, lastRenewStartedAt: number | null, ttlMs: number, renewMs: number): boolean {
  return lastRenewStartedAt !== null && now >= fenceDeadline(lastRenewStartedAt, ttlMs, renewMs);
}

/** What a renewal read back, against what the node believes it holds: leases it lost, leases it holds without knowing. */
export function compareLeases(held: ReadonlyMap<string, number>, read: ReadonlyMap<string, number>): { lost: string[]; unknown: Array<{ id: string; epoch: number }> } {
  const lost = [...held].filter(([id, epoch]) => read.get(id) !== epoch).map(([id]) => id);
  const unknown = [...read].filter(([id]) => !held.has(id)).map(([id, epoch]) => ({ id, epoch }));
  return { lost, unknown };
}

/**
 * Seconds a node's database session may sit idle inside a transaction before the server ends it
 * (MariaDB's `idle_transaction_timeout`). A node paused mid-transaction (SIGSTOP, a VM frozen)
 * holds that instance's row lock, and survivors' claims skip locked rows: half the TTL frees the
 * row before the paused node's lease can lapse, so the claim is not held up past the lease. A
 * running node is never idle that long between two statements of one transaction.
 */
export function idleTransactionTimeoutS(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs / 2_000));
}
