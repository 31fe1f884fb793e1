import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../../errors/index.js';
import type { Messages } from '../../messages/messages.js';
import { sendBodySchema } from '../../messages/send-request.js';
import type { Fleet } from '../../supervisor/fleet.js';
import { idempotencyKeyHeader, idParams, messageListQuery, messageParams } from '../schemas.js';
import { principalOf, requireScope } from '../scoped-keys.js';
import { messageView } from '../views.js';

const MEDIA_TIMEOUT_MS = 60_000;
/** What a JSON body needs around its base64 media (4 characters per 3 bytes): the other fields. */
const BODY_OVERHEAD_BYTES = 256 * 1024;

const instanceOf = (req: Request, res: Response) => {
  const { id } = idParams.parse(req.params);
  requireScope(res, id);
  return id;
};

/**
 * The message routes: send (202 once the message is committed), read one, list, and download the
 * media of a received message. The send route parses its own body, larger than the API's limit,
 * since base64 media rides in it; past that, the answer is MEDIA_TOO_LARGE.
 */
export function messagesRouter(fleet: Fleet, messages: Messages, options: { mediaMaxMb: number }): Router {
  const router = Router();
  const bodyLimit = Math.ceil((options.mediaMaxMb * 1024 * 1024 * 4) / 3) + BODY_OVERHEAD_BYTES;
  const parse = express.json({ limit: bodyLimit });
  const parseBody = (req: Request, res: Response, next: NextFunction) =>
    parse(req, res, (err?: unknown) => {
      if ((err as { type?: string } | undefined)?.type === 'entity.too.large') {
        return next(new AppError('MEDIA_TOO_LARGE', `the request is over what MESSAGE_MEDIA_MAX_MB=${options.mediaMaxMb} allows in base64`));
      }
      next(err);
    });

  router.post('/api/instance/:id/messages', parseBody, async (req, res) => {
    const id = instanceOf(req, res);
    await fleet.placedHandle(id); // INSTANCE_NOT_FOUND before anything is read or fetched
    const header = req.get('Idempotency-Key');
    const idempotencyKey = header === undefined ? null : idempotencyKeyHeader.parse(header);
    const body = sendBodySchema.parse(req.body);
    const scope = principalOf(res).kind === 'admin' ? 'admin' : 'instance';
    const { message, created } = await messages.accept(id, body, { idempotencyKey, scope });
    res.status(created ? 202 : 200).json({ message: messageView(message) });
  });

  router.get('/api/instance/:id/messages', async (req, res) => {
    const id = instanceOf(req, res);
    await fleet.mustExist(id);
    const query = messageListQuery.parse(req.query);
    const rows = await messages.list(id, { limit: query.limit, ...(query.before ? { before: query.before } : {}), ...(query.status ? { state: query.status } : {}) });
    const last = rows.at(-1);
    res.json({ messages: rows.map(messageView), next: rows.length === query.limit && last ? last.seq : null, counts: await messages.counts(id) });
  });

  router.get('/api/instance/:id/messages/:messageId', async (req, res) => {
    const { id, messageId } = messageParams.parse(req.params);
    requireScope(res, id);
    await fleet.mustExist(id);
    res.json({ message: messageView(await messages.get(id, messageId)) });
  });

  router.get('/api/instance/:id/messages/:messageId/media', async (req, res) => {
    const { id, messageId } = messageParams.parse(req.params);
    requireScope(res, id);
    const worker = await fleet.worker(id);
    const media = await worker.downloadMedia(messageId, MEDIA_TIMEOUT_MS);
    const data = Buffer.from(media.data, 'base64');
    // What a page said is input: a malformed type is served as bytes, never written into a header as is.
    res.type(/^[\w.+-]+\/[\w.+-]+$/.test(media.mimetype) ? media.mimetype : 'application/octet-stream');
    if (media.filename) res.attachment(media.filename);
    res.send(data);
  });

  return router;
}
