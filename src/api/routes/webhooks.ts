import { Router } from 'express';
import type { Pool } from '../../db/pool.js';
import { listFailed, retryDead, type FailedWebhook } from '../../webhooks/outbox.js';
import { AppError } from '../../errors/index.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { failedWebhooksQuery as limitQuery, idParams as instanceParams, webhookIdParams as idParams } from '../schemas.js';
import { principalOf, requireAdmin, requireScope } from '../scoped-keys.js';

/**
 * What a failed delivery says to whom: the admin sees the whole error; an instance's own key sees
 * the receiver's HTTP status, or only "unreachable" (why a connection failed — a refused
 * address, a DNS answer, a TLS detail — is the supervisor's network, not the key's business).
 */
function failedView(f: FailedWebhook, admin: boolean) {
  const { signer: _signer, urlScope: _urlScope, ...shown } = f;
  const lastError = admin || f.lastError === null ? f.lastError : f.lastStatusCode === null ? 'unreachable' : `HTTP ${f.lastStatusCode}`;
  return { ...shown, lastError, createdAt: f.createdAt.toISOString() };
}

/** Dead-lettered webhooks: list them, and send one again (after fixing the receiver). */
export function webhooksRouter(pool: Pool, fleet: Fleet, wake: () => void): Router {
  const router = Router();
  router.get('/api/webhooks/failed', async (req, res) => {
    requireAdmin(res);
    const { limit } = limitQuery.parse(req.query);
    const failed = await listFailed(pool, { limit });
    res.json({ failed: failed.map((f) => failedView(f, true)) });
  });
  router.get('/api/instance/:id/webhooks/failed', async (req, res) => {
    const { id } = instanceParams.parse(req.params);
    requireScope(res, id);
    await fleet.mustExist(id);
    const { limit } = limitQuery.parse(req.query);
    const failed = await listFailed(pool, { limit, instanceId: id });
    res.json({ failed: failed.map((f) => failedView(f, principalOf(res).kind === 'admin')) });
  });
  router.post('/api/webhooks/:id/retry', async (req, res) => {
    requireAdmin(res);
    const { id } = idParams.parse(req.params);
    if (!(await retryDead(pool, id))) throw new AppError('WEBHOOK_NOT_DEAD', `no dead-lettered webhook ${id}`);
    wake();
    res.json({ id, status: 'pending' });
  });
  return router;
}
