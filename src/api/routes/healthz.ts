import { Router } from 'express';
import { isReachable, type Pool } from '../../db/pool.js';

/**
 * Liveness for process managers and load balancers: the process answers and the database is
 * reachable. Needs no key and tells nothing else.
 */
export function healthzRouter(pool: Pool): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const database = await isReachable(pool);
    res.status(database ? 200 : 503).json({ status: database ? 'ok' : 'degraded', database: database ? 'up' : 'down' });
  });
  return router;
}
