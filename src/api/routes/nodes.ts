import { Router } from 'express';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import type { Leases } from '../../cluster/leases.js';
import type { Config } from '../../config/index.js';
import type { NodeRow } from '../../db/cluster-repository.js';
import { AppError } from '../../errors/index.js';
import type { Logger } from '../../logger/index.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { forward, FORWARDED_HEADER } from '../forward.js';
import { nodeIdParams } from '../schemas.js';
import { requireAdmin } from '../scoped-keys.js';


export interface NodesRouteOptions {
  fleet: Fleet;
  config: Config;
  /** CLUSTER=on: this node and its leases; null: one supervisor runs every instance. */
  cluster: { node: ClusterNode; leases: Leases } | null;
  log: Logger;
}

function nodeView(n: NodeRow, self: string, stats: Leases['stats'] | null) {
  return {
    id: n.id,
    url: n.url,
    state: n.alive || n.state === 'stopped' ? n.state : 'down',
    alive: n.alive,
    self: n.id === self,
    load: n.load,
    capacity: n.maxInstances,
    leaseTtlMs: n.leaseTtlMs,
    version: n.version,
    startedAt: n.startedAt.toISOString(),
    heartbeatAt: n.heartbeatAt.toISOString(),
    ...(n.id === self && stats ? { leases: { ...stats } } : {}),
  };
}

/**
 * The nodes (admin only). With CLUSTER=off the list is this supervisor alone. Drain and resume
 * act on the node named in the path: another node's request is passed on to it.
 */
export function nodesRouter({ fleet, config, cluster, log }: NodesRouteOptions): Router {
  const router = Router();

  router.get('/api/nodes', async (_req, res) => {
    requireAdmin(res);
    if (!cluster) {
      const load = fleet.list().filter((h) => h.hasWorker).length;
      res.json({
        cluster: 'off',
        nodes: [{ id: fleet.nodeId, url: null, state: 'up', alive: true, self: true, load, capacity: config.maxInstances, leaseTtlMs: null, version: null, startedAt: null, heartbeatAt: null }],
      });
      return;
    }
    const rows = await fleet.journal.read(() => cluster.node.nodes());
    if (!rows) throw new AppError('DATABASE_UNAVAILABLE');
    res.json({ cluster: 'on', nodes: rows.map((n) => nodeView(n, fleet.nodeId, cluster.leases.stats)) });
  });

  /** Runs `act` on this node, or passes the request to the node named (404 when it never ran). */
  const onNode = (act: (node: ClusterNode) => Promise<Record<string, unknown>>) =>
    async (req: import('express').Request, res: import('express').Response) => {
      requireAdmin(res);
      if (!cluster) throw new AppError('CLUSTER_OFF');
      const { id } = nodeIdParams.parse(req.params);
      if (id === fleet.nodeId) {
        res.status(202).json({ node: id, ...(await act(cluster.node)) });
        return;
      }
      const rows = await fleet.journal.read(() => cluster.node.nodes());
      if (!rows) throw new AppError('DATABASE_UNAVAILABLE');
      const target = rows.find((n) => n.id === id);
      if (!target) throw new AppError('NODE_NOT_FOUND', `no node "${id}"`);
      if (req.headers[FORWARDED_HEADER] || !target.alive) throw new AppError('OWNER_UNREACHABLE', `node "${id}" is ${target.alive ? 'not answering for itself' : 'down'}`);
      await forward(req, res, target.url, fleet.nodeId, log);
    };

  /** Moves every instance of the node to the others (maintenance); answers at once, GET /api/nodes shows the load fall. */
  router.post(
    '/api/nodes/:id/drain',
    onNode(async (node) => {
      const instances = fleet.heldIds().length;
      void node.drain();
      return { state: 'draining', instances };
    }),
  );

  /** Ends a drain: the node takes instances again. */
  router.post(
    '/api/nodes/:id/resume',
    onNode(async (node) => {
      await node.resume();
      return { state: 'up' };
    }),
  );

  return router;
}
