import { Router } from 'express';
import { isReachable, type Pool } from '../../db/pool.js';
import type { Checks } from '../../checks/checks.js';
import type { Fleet } from '../../supervisor/fleet.js';

export interface HealthDeps {
  pool: Pool;
  fleet: Fleet;
  version: string;
  startedAt: Date;
  /** Demo mode (fake WhatsApp Web): the dashboard shows its banner and simulate buttons. */
  demo: boolean;
  checks: Checks;
}

function countBy<T extends string>(values: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** The operator's overview: database, instances by status and by health, the check loops, uptime, version. */
export function healthRouter({ pool, fleet, version, startedAt, demo, checks }: HealthDeps): Router {
  const router = Router();
  router.get('/api/health', async (_req, res) => {
    const database = fleet.journal.databaseUp && (await isReachable(pool));
    const handles = fleet.list();
    // One call: stats() already asks the start gate whether memory refuses starts.
    const stats = checks.stats();
    res.json({
      status: database ? 'ok' : 'degraded',
      version,
      demo,
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      database: database ? 'up' : 'down',
      instances: {
        total: handles.length,
        byStatus: countBy(handles.map((h) => h.live.status)),
        byHealth: countBy(handles.map((h) => h.health)),
      },
      loops: Object.fromEntries(
        Object.entries(stats.loops).map(([name, l]) => [
          name,
          { running: l.running, runs: l.runs, skips: l.skips, errors: l.errors, lastRunAt: l.lastRunAt, lastDurationMs: l.lastDurationMs },
        ]),
      ),
      startsRefused: stats.startsRefused,
      /** Changes waiting for the database to come back (every one is written when it does). */
      journalPending: fleet.journal.pending,
      spareWorker: fleet.spareWorker,
    });
  });
  return router;
}
