import { Router } from 'express';
import type { Messages } from '../../messages/messages.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { demoAckBody, demoInboundBody, demoParams, demoSendFaultBody, idParams } from '../schemas.js';

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
export function demoRouter(fleet: Fleet, messages: Messages): Router {
  const router = Router();
  // Messages, before the generic action route: an inbound message, a receipt, and the page's own
  // record of what reached "WhatsApp" (tests and outside checks judge the product against it).
  router.post('/api/demo/:id/message', async (req, res) => {
    const { id } = idParams.parse(req.params);
    const { media, ...rest } = demoInboundBody.parse(req.body);
    const sent = (await fleet.demoQuery(id, 'receive', [{ ...rest, ...(media ? { media: { ...media, data: media.base64, base64: undefined } } : {}) }])) as { id: string };
    res.json({ id, messageId: sent.id });
  });
  router.post('/api/demo/:id/ack', async (req, res) => {
    const { id } = idParams.parse(req.params);
    const { messageId, ack } = demoAckBody.parse(req.body);
    // wa-fleet's own id names a queued message: the page knows it by WhatsApp's id.
    const waMessageId = messageId.includes('_') ? messageId : ((await messages.get(id, messageId)).waMessageId ?? messageId);
    await fleet.demoQuery(id, 'ack', [waMessageId, ack]);
    res.json({ id, messageId: waMessageId, ack });
  });
  // A deterministic crash point for tests and chaos: the page's next sends hang (before or after
  // they reach "WhatsApp") or are refused, so a kill can land exactly while a message is `sending`.
  router.post('/api/demo/:id/send-fault', async (req, res) => {
    const { id } = idParams.parse(req.params);
    const fault = demoSendFaultBody.parse(req.body);
    await fleet.demoQuery(id, 'failNextSends', [fault]);
    res.json({ id, ...fault });
  });
  router.get('/api/demo/:id/sent', async (req, res) => {
    const { id } = idParams.parse(req.params);
    res.json({ id, sent: await fleet.demoQuery(id, 'sent', []) });
  });
  router.post('/api/demo/:id/:action', async (req, res) => {
    const { id, action } = demoParams.parse(req.params);
    const call = FAKE_CALLS[action]!;
    await fleet.simulate(id, call.method, call.args);
    res.json({ id, action, done: true });
  });
  return router;
}
