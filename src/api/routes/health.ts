import { Router } from 'express';
import { SettledRead } from '../../../lib/settled-read.js';
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

/**
 * A database that answered a ping answers health for this long without another: a monitor polls
 * every few seconds, and a ping per request is a round trip and a wake-up of the database for
 * each of them. A failed ping is never reused, and a write the journal could not make turns the
 * answer to "down" at once.
 */
export const HEALTH_PING_REUSE_MS = 1_000;

function countBy<T extends string>(values: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** The operator's overview: database, instances by status and by health, the check loops, uptime, version. */
export function healthRouter({ pool, fleet, version, startedAt, demo, checks }: HealthDeps): Router {
  const router = Router();
  // Requests that come while a ping is in flight share it (FreshRead): a database that hangs is asked once, not once per request.
  const ping = new SettledRead(() => isReachable(pool), { version: () => 0, maxAgeMs: HEALTH_PING_REUSE_MS, keep: (up) => up });
  router.get('/api/health', async (_req, res) => {
    const database = fleet.journal.databaseUp && (await ping.read());
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
