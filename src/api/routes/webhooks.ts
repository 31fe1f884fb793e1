import { Router } from 'express';
import type { Pool } from '../../db/pool.js';
import { listFailed, retryDead } from '../../webhooks/outbox.js';
import { AppError } from '../../errors/index.js';
import { failedWebhooksQuery as limitQuery, webhookIdParams as idParams } from '../schemas.js';

/** Dead-lettered webhooks: list them, and send one again (after fixing the receiver). */
export function webhooksRouter(pool: Pool, wake: () => void): Router {
  const router = Router();
  router.get('/api/webhooks/failed', async (req, res) => {
    const { limit } = limitQuery.parse(req.query);
    const failed = await listFailed(pool, { limit });
    res.json({ failed: failed.map((f) => ({ ...f, createdAt: f.createdAt.toISOString() })) });
  });
  router.post('/api/webhooks/:id/retry', async (req, res) => {
    const { id } = idParams.parse(req.params);
    if (!(await retryDead(pool, id))) throw new AppError('WEBHOOK_NOT_DEAD', `no dead-lettered webhook ${id}`);
    wake();
    res.json({ id, status: 'pending' });
  });
  return router;
}
