import { Router } from 'express';
import { apiKeys, newApiKey } from '../../db/api-keys-repository.js';
import type { Pool } from '../../db/pool.js';
import { AppError } from '../../errors/index.js';
import { Category } from '../../logger/index.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { createKeyBody, idParams, keyParams } from '../schemas.js';
import { requireAdmin, type ScopedKeys } from '../scoped-keys.js';

/**
 * Per-instance API keys, managed with the admin key only. A key is shown once, when created;
 * only its SHA-256 is stored. Creating and revoking are journal entries (the key row and an
 * instance event in one transaction), refused while the database is away.
 */
export function keysRouter(fleet: Fleet, pool: Pool, scopedKeys: ScopedKeys): Router {
  const router = Router();

  router.post('/api/instance/:id/keys', async (req, res) => {
    requireAdmin(res);
    const { id } = idParams.parse(req.params);
    const { label = null } = createKeyBody.parse(req.body ?? {});
    await fleet.mustExist(id); // INSTANCE_NOT_FOUND before anything is written
    const { keyId, key, hash } = newApiKey();
    const createdAt = new Date();
    await fleet.journal.record(
      { instanceId: id, change: { kind: 'keyCreate', keyId, hash, label }, event: { category: Category.API, type: 'key.created', data: { keyId, label } } },
      'refuse',
    );
    res.status(201).json({ keyId, key, label, createdAt: createdAt.toISOString() });
  });

  router.get('/api/instance/:id/keys', async (req, res) => {
    requireAdmin(res);
    const { id } = idParams.parse(req.params);
    await fleet.mustExist(id);
    const keys = await fleet.journal.read(() => apiKeys.list(pool, id));
    if (!keys) throw new AppError('DATABASE_UNAVAILABLE');
    res.json({
      keys: keys.map((k) => ({ keyId: k.keyId, label: k.label, createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null })),
    });
  });

  router.delete('/api/instance/:id/keys/:keyId', async (req, res) => {
    requireAdmin(res);
    const { id, keyId } = keyParams.parse(req.params);
    await fleet.mustExist(id);
    const outcome = await fleet.journal.record(
      { instanceId: id, change: { kind: 'keyRevoke', keyId }, event: { category: Category.API, type: 'key.revoked', data: { keyId } } },
      'refuse',
    );
    if (outcome === 'unchanged') throw new AppError('KEY_NOT_FOUND', `instance "${id}" has no key ${keyId}`);
    scopedKeys.forgetKey(keyId);
    res.json({ revoked: keyId });
  });

  return router;
}
