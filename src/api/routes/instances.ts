import { Router, type Request } from 'express';
import QRCode from 'qrcode';
import { sleep } from '../../../lib/timeout.js';
import type { Config } from '../../config/index.js';
import { listEvents } from '../../db/events.js';
import { ConnectionStatus } from '../../domain/instance.js';
import type { Fleet } from '../../supervisor/fleet.js';
import type { InstanceHandle } from '../../supervisor/instance-handle.js';
import { WorkerCommand } from '../../worker/protocol.js';
import { HttpError } from '../http-errors.js';
import { createInstanceBody, idParams, pairingCodeBody } from '../schemas.js';
import { eventView, instanceView } from '../views.js';

const QR_WAIT_MS = 20_000;
const PAIRING_CODE_TTL_MS = 60_000;
const PAIRING_TIMEOUT_MS = 30_000;

const idOf = (req: Request) => idParams.parse(req.params).id;

function refuseConnected(handle: InstanceHandle): void {
  if (handle.live.status === ConnectionStatus.CONNECTED) {
    throw new HttpError(409, 'ALREADY_CONNECTED', 'the instance is connected; log it out first to link another phone');
  }
}

/** Waits for the worker (maybe just started) to show a QR. */
async function currentQr(handle: InstanceHandle): Promise<{ value: string; at: Date }> {
  await handle.requestQr();
  const deadline = Date.now() + QR_WAIT_MS;
  while (!handle.live.qr) {
    refuseConnected(handle);
    if (Date.now() > deadline) {
      throw new HttpError(503, 'QR_NOT_READY', `no QR yet (the instance is ${handle.live.status}); try again in a few seconds`);
    }
    await sleep(100);
  }
  return handle.live.qr;
}

/** The latest memory sample of an instance, as the memory report holds it (null before the first). */
export type MemoryOf = (id: string) => unknown;

export function instancesRouter(fleet: Fleet, config: Config, memoryOf: MemoryOf): Router {
  const router = Router();
  const view = async (id: string) => instanceView(await fleet.repo.require(id), fleet.handle(id));

  router.post('/api/instances', async (req, res) => {
    const body = createInstanceBody.parse(req.body ?? {});
    const row = await fleet.create(body.id, { enabled: body.enabled ?? true, webhookUrl: body.webhookUrl ?? null });
    res.status(201).json({ instance: instanceView(row, fleet.handle(row.id)) });
  });

  router.get('/api/instances', async (_req, res) => {
    const rows = await fleet.repo.list();
    const handles = new Map(fleet.list().map((h) => [h.id, h]));
    res.json({ instances: rows.map((row) => instanceView(row, handles.get(row.id))) });
  });

  router.get('/api/instance/:id/details', async (req, res) => {
    const id = idOf(req);
    const instance = await view(id);
    const events = await listEvents(fleet.repo.pool, id, 20);
    res.json({ instance, memory: memoryOf(id), events: events.map(eventView) });
  });

  router.post('/api/instance/:id/enable', async (req, res) => {
    const id = idOf(req);
    await fleet.enable(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/disable', async (req, res) => {
    const id = idOf(req);
    await fleet.disable(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/restart', async (req, res) => {
    const id = idOf(req);
    await fleet.restart(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/logout', async (req, res) => {
    const id = idOf(req);
    await fleet.logout(id);
    res.json({ instance: await view(id) });
  });

  router.delete('/api/instance/:id', async (req, res) => {
    const id = idOf(req);
    await fleet.remove(id);
    res.json({ removed: id });
  });

  router.get('/api/instance/:id/qr', async (req, res) => {
    const handle = fleet.handle(idOf(req));
    refuseConnected(handle);
    const qr = await currentQr(handle);
    if (req.accepts(['application/json', 'image/png']) === 'image/png') {
      res.type('png').send(await QRCode.toBuffer(qr.value, { margin: 2, width: 320 }));
      return;
    }
    res.json({ qr: qr.value, dataUrl: await QRCode.toDataURL(qr.value, { margin: 2, width: 320 }), at: qr.at.toISOString() });
  });

  router.post('/api/instance/:id/pairing-code', async (req, res) => {
    const id = idOf(req);
    const { phone } = pairingCodeBody.parse(req.body ?? {});
    const handle = fleet.handle(id);
    refuseConnected(handle);
    const limit = await fleet.repo.takePairingAttempt(id, config.pairingWindowMs, config.pairingMaxAttempts);
    if (!limit.allowed) {
      throw new HttpError(429, 'PAIRING_LIMIT', `at most ${config.pairingMaxAttempts} pairing codes per ${Math.round(config.pairingWindowMs / 60_000)} min`);
    }
    await currentQr(handle); // the page offers pairing once it is waiting to be linked
    const worker = await handle.runningWorker();
    if (!worker) throw new HttpError(409, 'WORKER_NOT_RUNNING', 'the instance has no running worker');
    const { code } = await worker.request<{ code: string }>(WorkerCommand.PAIRING_CODE, { phone, timeoutMs: PAIRING_TIMEOUT_MS }, PAIRING_TIMEOUT_MS + 2_000);
    const expiresAt = new Date(Date.now() + PAIRING_CODE_TTL_MS);
    await fleet.repo.storePairingCode(id, code, expiresAt);
    res.json({ code, expiresAt: expiresAt.toISOString(), attempts: limit.attempts, maxAttempts: config.pairingMaxAttempts });
  });

  return router;
}
