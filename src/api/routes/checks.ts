import { Router } from 'express';
import type { Checks } from '../../checks/checks.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { healthCheckQuery as checkQuery } from '../schemas.js';

/**
 * `POST /api/health/check[?deep=1]`: a health tick now (and a deep one), answered with every
 * instance's verdict. `GET /api/memory/report`: the latest memory samples and verdicts. Both read
 * what the loops hold; nothing is sampled or spawned per request.
 */
export function checksRouter(checks: Checks, fleet: Fleet): Router {
  const router = Router();
  router.post('/api/health/check', async (req, res) => {
    const { deep } = checkQuery.parse(req.query);
    const ranHealth = await checks.runHealth();
    const ranDeep = deep === '1' || deep === 'true' ? await checks.runDeep() : false;
    // A tick already in progress is not run twice: its verdicts are the fresh ones.
    res.json({ ran: { health: ranHealth, deep: ranDeep }, verdicts: checks.verdicts() });
  });
  router.get('/api/memory/report', (_req, res) => {
    // From memory, never the database: it answers the same with the database away, and says so.
    res.json({ database: fleet.journal.databaseUp ? 'up' : 'down', ...checks.memoryReport() });
  });
  return router;
}
