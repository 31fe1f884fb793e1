import { Router } from 'express';
import type { Fleet } from '../../supervisor/fleet.js';

/**
 * Liveness for process managers and load balancers: 200 while the process answers. The database
 * is reported, not required: the fleet keeps its sessions up through an outage and records what
 * happened when the database is back, so a manager restarting it for an outage would only make
 * things worse. Needs no key and tells nothing else.
 */
export function healthzRouter(fleet: Fleet): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', database: fleet.journal.databaseUp ? 'up' : 'down' });
  });
  return router;
}
