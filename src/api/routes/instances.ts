import { Router, type Request, type Response } from 'express';
import QRCode from 'qrcode';
import { FreshRead } from '../../../lib/fresh-read.js';
import { SettledRead } from '../../../lib/settled-read.js';
import { sleep } from '../../../lib/timeout.js';
import type { Config } from '../../config/index.js';
import { ConnectionStatus, type Instance } from '../../domain/instance.js';
import { InstancesRepository } from '../../db/instances-repository.js';
import type { Pool } from '../../db/pool.js';
import { AppError } from '../../errors/index.js';
import { Category } from '../../logger/index.js';
import type { Fleet } from '../../supervisor/fleet.js';
import type { InstanceHandle } from '../../supervisor/instance/handle.js';
import { checkWebhookUrl, ForbiddenAddressError, systemResolver, type ResolveHost } from '../../webhooks/address-guard.js';
import { newWebhookSecret } from '../../webhooks/sign.js';
import { createInstanceBody, idParams, pairingCodeBody, patchInstanceBody } from '../schemas.js';
import { principalOf, requireAdmin, requireScope, type ScopedKeys } from '../scoped-keys.js';
import { SharedJson } from '../shared-json.js';
import { eventView, instanceView } from '../views.js';

const QR_WAIT_MS = 20_000;
const PAIRING_TIMEOUT_MS = 30_000;
const RECENT_EVENTS = 20;
/**
 * How long the list serves its rows again when the journal wrote nothing meanwhile: the bound on
 * how late a row change made outside the journal shows (a pairing-code attempt's counter, an
 * operator's SQL). Under load the list then queries a few times a second instead of once per
 * request (bench:api at 500 requests/s: p99 12-17 ms with a query per request, 7.5-9.5 without).
 */
const LIST_ROWS_REUSE_MS = 250;

/** The instance id of the path; FORBIDDEN_SCOPE when an instance's own key names another instance. */
const idOf = (req: Request, res: Response) => {
  const { id } = idParams.parse(req.params);
  requireScope(res, id);
  return id;
};

function refuseConnected(handle: InstanceHandle): void {
  if (handle.live.status === ConnectionStatus.CONNECTED) throw new AppError('ALREADY_CONNECTED');
}

/** Waits for the worker (maybe just started) to show a QR. */
async function currentQr(fleet: Fleet, handle: InstanceHandle): Promise<{ value: string; at: Date }> {
  await fleet.requestQr(handle.id);
  const deadline = Date.now() + QR_WAIT_MS;
  while (!handle.live.qr) {
    refuseConnected(handle);
    if (Date.now() > deadline) throw new AppError('QR_NOT_READY', `no QR yet (the instance is ${handle.live.status}); try again in a few seconds`);
    await sleep(100);
  }
  return handle.live.qr;
}

/** The latest memory sample of an instance, as the memory report holds it (null before the first). */
export type MemoryOf = (id: string) => unknown;

export interface InstanceRouteOptions {
  pool: Pool;
  /** Forgets a removed instance's keys at once. */
  scopedKeys: ScopedKeys;
  /** Resolves a webhook URL's host to check it (an instance key's URL only). */
  resolveHost?: ResolveHost;
}

/**
 * The instances. Reads answer from the fleet's live view laid over the rows; with the database
 * away they still answer (`database: "down"`), from the live view and the last rows read, with
 * the row-only fields named in each instance's `stale`.
 */
export function instancesRouter(fleet: Fleet, config: Config, memoryOf: MemoryOf, options: InstanceRouteOptions): Router {
  const router = Router();
  const repo = new InstancesRepository(options.pool);
  const resolveHost = options.resolveHost ?? systemResolver;

  /** The secret just generated with a webhook URL, read once to hand it over (never in a view, event or log). */
  const secretOf = async (id: string) => {
    const secret = await fleet.journal.read(() => repo.webhookSecret(id));
    return secret ? { webhookSecret: secret } : {};
  };

  /** The view of an instance, `node` filled in: this node when it runs it, else the row's lease holder. */
  const show = (row: Instance | null, handle: InstanceHandle | undefined, stale = false, now = Date.now()) =>
    instanceView(row, handle, { stale, now, node: handle ? fleet.nodeId : (row?.node ?? null) });

  /** The instance as the API shows it after a write: the fresh row, or the last one read. */
  const view = async (id: string) => {
    const row = await fleet.row(id);
    return show(row ?? fleet.lastRow(id), fleet.find(id), row === null);
  };

  router.post('/api/instances', async (req, res) => {
    requireAdmin(res);
    const body = createInstanceBody.parse(req.body ?? {});
    const row = await fleet.create(body.id, { enabled: body.enabled ?? true, webhookUrl: body.webhookUrl || null });
    res.status(201).json({ instance: show(row, fleet.find(row.id)), ...(row.webhookUrl ? await secretOf(row.id) : {}) });
  });

  /**
   * The rows of the list, read again only when they may have changed: the journal (every change
   * of this node) began or ended a write since the last read, the last read is LIST_ROWS_REUSE_MS
   * old, or the database was away. With CLUSTER=on other nodes write rows too: read every time.
   * The live state (status, health, worker) is laid over them per request in any case.
   */
  const rowsRead = new SettledRead(() => fleet.rows(), {
    version: () => (fleet.clustered || !fleet.journal.databaseUp ? null : fleet.journal.writes),
    maxAgeMs: LIST_ROWS_REUSE_MS,
    keep: (rows) => rows !== null,
  });

  /**
   * The list: one query for every row (never one per instance) unless nothing changed since the
   * last, the live view laid over it, and the answer rendered once. Requests that arrive while a
   * list is being made share the next one (FreshRead: never one that began before them), and
   * with it the same rendered body.
   */
  const listing = new FreshRead(async () => {
    const rows = await rowsRead.read();
    const handles = new Map(fleet.list().map((h) => [h.id, h]));
    const now = Date.now();
    if (rows) return new SharedJson({ database: 'up', instances: rows.map((row) => show(row, handles.get(row.id), false, now)) });
    return new SharedJson({ database: 'down', instances: [...handles.values()].map((h) => show(fleet.lastRow(h.id), h, true, now)) });
  });

  router.get('/api/instances', async (_req, res) => {
    requireAdmin(res);
    (await listing.read()).send(res);
  });

  router.get('/api/instance/:id/details', async (req, res) => {
    const id = idOf(req, res);
    await fleet.mustExist(id);
    const handle = fleet.find(id);
    // With the circuit closed both reads go at once: one round trip of latency instead of two.
    // Otherwise the row first, alone: it is the one read that may test (and close) the circuit,
    // and an outage counts once per request, as before.
    const [row, recent] = fleet.journal.databaseUp
      ? await Promise.all([fleet.row(id), fleet.recentEvents(id, RECENT_EVENTS)])
      : await fleet.row(id).then(async (r) => [r, r ? await fleet.recentEvents(id, RECENT_EVENTS) : null] as const);
    const events = row ? recent : null;
    res.json({
      database: row && events ? 'up' : 'down',
      instance: show(row ?? fleet.lastRow(id), handle, row === null),
      memory: memoryOf(id),
      events: (events ?? []).map(eventView),
    });
  });

  router.post('/api/instance/:id/enable', async (req, res) => {
    const id = idOf(req, res);
    await fleet.enable(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/disable', async (req, res) => {
    const id = idOf(req, res);
    await fleet.disable(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/restart', async (req, res) => {
    const id = idOf(req, res);
    await fleet.restart(id);
    res.json({ instance: await view(id) });
  });

  router.post('/api/instance/:id/logout', async (req, res) => {
    const id = idOf(req, res);
    await fleet.logout(id);
    res.json({ instance: await view(id) });
  });

  router.delete('/api/instance/:id', async (req, res) => {
    const id = idOf(req, res);
    requireAdmin(res);
    await fleet.remove(id);
    options.scopedKeys.forgetInstance(id);
    res.json({ removed: id });
  });

  /**
   * Changes the webhook URL (null or "" clears it), in one journal entry. A URL set with an
   * instance's own key is checked first (every address its host resolves to must be public) and
   * is marked so that each delivery checks it again when it connects. A new URL gets a new
   * secret, returned once.
   */
  router.patch('/api/instance/:id', async (req, res) => {
    const id = idOf(req, res);
    const { webhookUrl } = patchInstanceBody.parse(req.body ?? {});
    await fleet.mustExist(id);
    const url = webhookUrl || null;
    const scope = principalOf(res).kind === 'admin' ? 'admin' : 'instance';
    if (url && scope === 'instance') {
      try {
        await checkWebhookUrl(url, resolveHost);
      } catch (err) {
        if (err instanceof ForbiddenAddressError) throw new AppError('WEBHOOK_URL_FORBIDDEN', `webhookUrl refused: ${err.message}`);
        throw err;
      }
    }
    const secret = url ? newWebhookSecret() : null;
    const outcome = await fleet.journal.record(
      {
        instanceId: id,
        change: { kind: 'webhook', url, scope, secret },
        event: { category: Category.API, type: url ? 'webhook.set' : 'webhook.cleared', data: url ? { origin: new URL(url).origin, setBy: scope } : { setBy: scope } },
      },
      'refuse',
    );
    if (outcome === 'unchanged') throw new AppError('INSTANCE_NOT_FOUND', `instance "${id}" does not exist`);
    res.json({ instance: await view(id), ...(secret ? { webhookSecret: secret } : {}) });
  });

  /** A new webhook secret for the instance's URL, returned once; deliveries still queued are signed with it. */
  router.post('/api/instance/:id/webhook-secret', async (req, res) => {
    const id = idOf(req, res);
    await fleet.mustExist(id);
    const secret = newWebhookSecret();
    const outcome = await fleet.journal.record(
      { instanceId: id, change: { kind: 'webhookSecret', secret }, event: { category: Category.API, type: 'webhook.secret_rotated' } },
      'refuse',
    );
    if (outcome === 'unchanged') throw new AppError('WEBHOOK_NOT_SET');
    res.json({ webhookSecret: secret });
  });

  router.get('/api/instance/:id/qr', async (req, res) => {
    const handle = await fleet.placedHandle(idOf(req, res));
    refuseConnected(handle);
    const qr = await currentQr(fleet, handle);
    if (req.accepts(['application/json', 'image/png']) === 'image/png') {
      res.type('png').send(await QRCode.toBuffer(qr.value, { margin: 2, width: 320 }));
      return;
    }
    res.json({ qr: qr.value, dataUrl: await QRCode.toDataURL(qr.value, { margin: 2, width: 320 }), at: qr.at.toISOString() });
  });

  router.post('/api/instance/:id/pairing-code', async (req, res) => {
    const id = idOf(req, res);
    const { phone } = pairingCodeBody.parse(req.body ?? {});
    const handle = await fleet.placedHandle(id);
    refuseConnected(handle);
    const limit = await fleet.takePairingAttempt(id, config.pairingWindowMs, config.pairingMaxAttempts);
    if (!limit.allowed) {
      throw new AppError('PAIRING_LIMIT', `at most ${config.pairingMaxAttempts} pairing codes per ${Math.round(config.pairingWindowMs / 60_000)} min`);
    }
    await currentQr(fleet, handle); // the page offers pairing once it is waiting to be linked
    const code = await (await fleet.worker(id)).pairingCode(phone, PAIRING_TIMEOUT_MS);
    // The code is the operator's to enter on the phone within a minute; it is not stored.
    res.json({ code, expiresAt: new Date(Date.now() + 60_000).toISOString(), attempts: limit.attempts, maxAttempts: config.pairingMaxAttempts });
  });

  return router;
}
