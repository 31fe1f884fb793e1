import { Readable } from 'node:stream';
import type { Request, RequestHandler, Response } from 'express';
import { coerceError } from '../../lib/errors.js';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';

/** Set on a forwarded request: the node that receives it answers itself (one hop, never a loop). */
export const FORWARDED_HEADER = 'x-wa-fleet-forwarded-by';
/** Set on every forwarded answer: the node that answered. */
export const ANSWERED_BY_HEADER = 'x-wa-fleet-node';

/** Longer than the longest route's own wait (a QR 20 s, a pairing code 30 s, a send's lookup). */
const FORWARD_TIMEOUT_MS = 45_000;

/** Headers that describe one connection, not the request: never passed on. */
const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'expect']);
const ANSWER_HEADERS = ['content-type', 'content-disposition', 'retry-after', 'cache-control'];

/** The instance a path is about (`/api/instance/:id…`, `/api/demo/:id…`), or null. */
export function instanceOfPath(path: string): string | null {
  const m = /^\/api\/(?:instance|demo)\/([^/]+)/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

/**
 * Passes the request on to `baseUrl` as it came (method, path and query, body bytes unparsed,
 * the client's own key) and answers with what that node answered. OWNER_UNREACHABLE when it does
 * not answer in time. The body is streamed, so a send's media is never parsed twice.
 */
export async function forward(req: Request, res: Response, baseUrl: string, fromNode: string, log: Logger): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (HOP_BY_HOP.has(name) || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  headers.set(FORWARDED_HEADER, fromNode);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && !req.readableEnded;
  let answer: globalThis.Response;
  try {
    answer = await fetch(new URL(req.originalUrl, baseUrl), {
      method: req.method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
    } as RequestInit);
  } catch (err) {
    // The client hung up (its body ended short, or it closed the connection): the forward was cut
    // on our side, not the owner's, and nobody is left to answer.
    if (req.destroyed || res.destroyed) {
      log.debug(`forwarded ${req.method} ${req.path} cut: the client went away`, { error: coerceError(err).message });
      return;
    }
    throw new AppError('OWNER_UNREACHABLE', `the node running this instance (${new URL(baseUrl).host}) did not answer: ${coerceError(err).message}`);
  }
  const body = Buffer.from(await answer.arrayBuffer());
  for (const name of ANSWER_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) res.setHeader(name, value);
  }
  res.setHeader(ANSWERED_BY_HEADER, answer.headers.get(ANSWERED_BY_HEADER) ?? 'unknown');
  res.status(answer.status).send(body);
}

export interface ForwardOptions {
  nodeId: string;
  /** The node holding a live lease on the instance and its URL; null when none (or the database is away). */
  ownerOf: (instanceId: string) => Promise<{ node: string; url: string | null } | null>;
  log: Logger;
}

/**
 * CLUSTER=on: a request about an instance another node runs goes to that node, which holds its
 * worker and its live view; everything else (no owner, this node, the database away) is answered
 * here. Mounted after authentication: the owner checks the same key again against the same database.
 */
export function forwardToOwner(options: ForwardOptions): RequestHandler {
  return (req, res, next) => {
    res.setHeader(ANSWERED_BY_HEADER, options.nodeId);
    const id = req.headers[FORWARDED_HEADER] ? null : instanceOfPath(req.path);
    if (id === null) return next();
    void (async () => {
      const owner = await options.ownerOf(id);
      if (!owner || owner.node === options.nodeId || !owner.url) return next();
      options.log.debug(`forwarded ${req.method} ${req.path} to ${owner.node}`, { instanceId: id });
      await forward(req, res, owner.url, options.nodeId, options.log.child({ instanceId: id }));
    })().catch(next);
  };
}
