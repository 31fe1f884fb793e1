import { Router } from 'express';
import type { Fleet } from '../../supervisor/fleet.js';
import { demoParams } from '../schemas.js';

/** What each public demo action does on the fake WhatsApp Web (`window.__fake`). */
const FAKE_CALLS: Record<string, { method: string; args: unknown[] }> = {
  scan: { method: 'scan', args: [] },
  logout: { method: 'logout', args: [] },
  conflict: { method: 'conflict', args: [] },
  unpair: { method: 'unpair', args: [] },
  freeze: { method: 'freeze', args: [] },
  crash: { method: 'crash', args: [] },
  stuck: { method: 'hold', args: ['OPENING'] },
  leak: { method: 'allocMb', args: [50] },
  release: { method: 'release', args: [] },
};

/**
 * Demo mode only (WA_FLEET_FAKE_WEB, refused in production): drive an instance's fake WhatsApp
 * Web through the public API, so a newcomer, the dashboard and black-box tests can walk the
 * whole lifecycle without a phone. Mounted only in demo mode; elsewhere the route does not exist.
 */
export function demoRouter(fleet: Fleet): Router {
  const router = Router();
  router.post('/api/demo/:id/:action', async (req, res) => {
    const { id, action } = demoParams.parse(req.params);
    const call = FAKE_CALLS[action]!;
    await fleet.simulate(id, call.method, call.args);
    res.json({ id, action, done: true });
  });
  return router;
}
