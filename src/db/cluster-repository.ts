import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { inTransaction, type Connection, type Pool } from './pool.js';

/*
 * Every query about nodes and leases (sql/009_cluster.sql). Time is always the database's:
 * NOW(3) decides whether a lease or a heartbeat is still live, never a node's clock. A lease's
 * end is written as NOW(3) plus the TTL in microseconds (DATE_ADD with INTERVAL … MICROSECOND).
 */

export type NodeState = 'up' | 'draining' | 'down' | 'stopped';

export interface NodeRow {
  id: string;
  url: string;
  state: NodeState;
  maxInstances: number;
  leaseTtlMs: number;
  version: string;
  startedAt: Date;
  heartbeatAt: Date;
  /** Heartbeat within its lease TTL, on the database's clock. */
  alive: boolean;
  /** Instances whose live lease it holds. */
  load: number;
}

export interface NodeRegistration {
  id: string;
  url: string;
  incarnation: string;
  maxInstances: number;
  leaseTtlMs: number;
  version: string;
}

/** A lease taken: the instance, the epoch now held, the node that held it before (null: none). */
export interface Claimed {
  id: string;
  epoch: number;
  from: string | null;
}

/** Why a node's write for an instance is refused: it does not hold the lease it names. */
export type FenceRefusal = 'gone' | 'owner' | 'epoch' | 'expired';

const FREE = 'enabled = 1 AND (owner_node IS NULL OR lease_until IS NULL OR lease_until <= NOW(3))';
const LEASE_END = 'DATE_ADD(NOW(3), INTERVAL ? MICROSECOND)';

function toNode(r: RowDataPacket): NodeRow {
  return {
    id: r.id,
    url: r.url,
    state: r.state,
    maxInstances: Number(r.max_instances),
    leaseTtlMs: Number(r.lease_ttl_ms),
    version: r.version,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    alive: Number(r.alive) === 1,
    load: Number(r.load),
  };
}

export const clusterRows = {
  /**
   * Takes the node's row (a restart under the same NODE_ID, or a second process given it by
   * mistake: the newer incarnation wins) and lets go of every lease an earlier incarnation held, so
   * its instances are claimed again under a new epoch: nothing that process still writes is accepted.
   */
  async register(pool: Pool, node: NodeRegistration): Promise<number> {
    await pool.query(
      `INSERT INTO nodes (id, url, incarnation, state, max_instances, lease_ttl_ms, version, started_at, heartbeat_at)
       VALUES (?, ?, ?, 'up', ?, ?, ?, NOW(3), NOW(3))
       ON DUPLICATE KEY UPDATE url = VALUES(url), incarnation = VALUES(incarnation), state = 'up', max_instances = VALUES(max_instances),
         lease_ttl_ms = VALUES(lease_ttl_ms), version = VALUES(version), started_at = NOW(3), heartbeat_at = NOW(3)`,
      [node.id, node.url, node.incarnation, node.maxInstances, node.leaseTtlMs, node.version],
    );
    const [res] = await pool.query<ResultSetHeader>('UPDATE instances SET lease_until = NULL WHERE owner_node = ? AND lease_until IS NOT NULL', [node.id]);
    return res.affectedRows;
  },

  /** False when another incarnation took the row: this process must stop running instances. */
  async heartbeat(pool: Pool, id: string, incarnation: string, state: NodeState): Promise<boolean> {
    const [res] = await pool.query<ResultSetHeader>('UPDATE nodes SET heartbeat_at = NOW(3), state = ? WHERE id = ? AND incarnation = ?', [state, id, incarnation]);
    return res.affectedRows === 1;
  },

  /**
   * Extends every live lease of the node and reads back what it holds (instance → epoch). A claim
   * of another node may pick this statement as a deadlock victim (the two lock an instance's row
   * and its index entry in opposite orders): it is run again at once, up to three times.
   */
  async renew(pool: Pool, nodeId: string, ttlMs: number): Promise<Map<string, number>> {
    for (let attempt = 1; ; attempt++) {
      try {
        await pool.query(`UPDATE instances SET lease_until = ${LEASE_END} WHERE owner_node = ? AND lease_until > NOW(3)`, [ttlMs * 1000, nodeId]);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ER_LOCK_DEADLOCK' || attempt >= 3) throw err;
      }
    }
    const [rows] = await pool.query<RowDataPacket[]>('SELECT id, lease_epoch FROM instances WHERE owner_node = ? AND lease_until > NOW(3)', [nodeId]);
    return new Map(rows.map((r) => [r.id as string, Number(r.lease_epoch)]));
  },

  async nodes(pool: Pool): Promise<NodeRow[]> {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT n.*, n.heartbeat_at > DATE_SUB(NOW(3), INTERVAL n.lease_ttl_ms * 1000 MICROSECOND) AS alive,
         (SELECT COUNT(*) FROM instances i WHERE i.owner_node = n.id AND i.lease_until > NOW(3)) AS \`load\`
       FROM nodes n ORDER BY n.id`,
    );
    return rows.map(toNode);
  },

  /** Enabled instances no node holds a live lease on. */
  async freeCount(pool: Pool): Promise<number> {
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM instances WHERE ${FREE}`);
    return Number(rows[0]?.n ?? 0);
  },

  /**
   * Claims up to `max` free instances in one transaction: rows another node is claiming right now
   * are skipped (SKIP LOCKED), each claim raises the epoch. Returns what was taken and from whom.
   */
  async claim(pool: Pool, nodeId: string, ttlMs: number, max: number): Promise<Claimed[]> {
    if (max <= 0) return [];
    return inTransaction(pool, async (conn) => {
      const [rows] = await conn.query<RowDataPacket[]>(`SELECT id, owner_node, lease_epoch FROM instances WHERE ${FREE} ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, [max]);
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.id as string);
      await conn.query(`UPDATE instances SET owner_node = ?, lease_until = ${LEASE_END}, lease_epoch = lease_epoch + 1 WHERE id IN (?)`, [nodeId, ttlMs * 1000, ids]);
      return rows.map((r) => ({ id: r.id as string, epoch: Number(r.lease_epoch) + 1, from: (r.owner_node as string | null) ?? null }));
    });
  },

  /**
   * Gives one lease back (a hand-over, a disable): another node may claim it at once. owner_node
   * stays, naming the last holder (the next claim reports where the instance came from); only a
   * live lease_until makes an owner. False when it was not held any more.
   */
  async release(pool: Pool, nodeId: string, id: string, epoch: number): Promise<boolean> {
    const [res] = await pool.query<ResultSetHeader>('UPDATE instances SET lease_until = NULL WHERE id = ? AND owner_node = ? AND lease_epoch = ? AND lease_until IS NOT NULL', [id, nodeId, epoch]);
    return res.affectedRows === 1;
  },

  /**
   * Marks nodes whose heartbeat is older than their TTL as down, and returns them with the
   * instances they still held: only the node whose statement flipped a row reports it.
   */
  async markDead(pool: Pool): Promise<Array<{ id: string; heartbeatAt: Date; instances: number }>> {
    return inTransaction(pool, async (conn) => {
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT id, heartbeat_at FROM nodes
         WHERE state IN ('up', 'draining') AND heartbeat_at <= DATE_SUB(NOW(3), INTERVAL lease_ttl_ms * 1000 MICROSECOND) FOR UPDATE SKIP LOCKED`,
      );
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.id as string);
      await conn.query("UPDATE nodes SET state = 'down' WHERE id IN (?)", [ids]);
      // A plain read, outside the lock: the instances' rows stay free for their writers.
      const [held] = await pool.query<RowDataPacket[]>('SELECT owner_node, COUNT(*) AS n FROM instances WHERE owner_node IN (?) GROUP BY owner_node', [ids]);
      const count = new Map(held.map((h) => [h.owner_node as string, Number(h.n)]));
      return rows.map((r) => ({ id: r.id as string, heartbeatAt: r.heartbeat_at as Date, instances: count.get(r.id as string) ?? 0 }));
    });
  },

  async setState(pool: Pool, id: string, incarnation: string, state: NodeState): Promise<void> {
    await pool.query('UPDATE nodes SET state = ? WHERE id = ? AND incarnation = ?', [state, id, incarnation]);
  },

  /** The node holding a live lease on the instance, with its URL; null when none (or no such instance). */
  async ownerOf(pool: Pool, instanceId: string): Promise<{ node: string; url: string | null } | null> {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT i.owner_node, n.url FROM instances i LEFT JOIN nodes n ON n.id = i.owner_node WHERE i.id = ? AND i.owner_node IS NOT NULL AND i.lease_until > NOW(3)',
      [instanceId],
    );
    return rows[0] ? { node: rows[0].owner_node as string, url: (rows[0].url as string | null) ?? null } : null;
  },

  /**
   * Inside a journal transaction: locks the instance's row and says why this node may not write
   * for it (null: it holds the live lease with this epoch). A claim by another node waits on the
   * lock, so the lease cannot move between this check and the commit.
   */
  async fence(conn: Connection, instanceId: string, nodeId: string, epoch: number): Promise<FenceRefusal | null> {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT owner_node, lease_epoch, lease_until > NOW(3) AS live FROM instances WHERE id = ? FOR UPDATE', [instanceId]);
    const row = rows[0];
    if (!row) return 'gone';
    if (row.owner_node !== nodeId) return 'owner';
    if (Number(row.lease_epoch) !== epoch) return 'epoch';
    if (Number(row.live) !== 1) return 'expired';
    return null;
  },
};
