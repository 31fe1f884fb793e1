import { randomBytes } from 'node:crypto';
import { Router, type Response } from 'express';
import { AppError } from '../../errors/index.js';
import type { Fleet } from '../../supervisor/fleet.js';
import type { ApiKeyGuard } from '../auth.js';

const HEARTBEAT_MS = 15_000;
/** Tokens waiting to be used at most: issuing past it drops the oldest (a client that asks for thousands uses few). */
const MAX_OUTSTANDING_TOKENS = 10_000;
/**
 * Bytes a stream may hold unsent before its reader counts as gone. A reader that stopped reading
 * (a frozen tab, a stalled proxy) would otherwise make the supervisor buffer every event for it
 * without bound; dropped, its EventSource reconnects with a new token and reloads the state.
 */
export const SLOW_READER_BYTES = 1024 * 1024;

export interface StreamOptions {
  /** Streams open at once. */
  maxStreams: number;
  slowReaderBytes?: number;
}

/**
 * Tokens for EventSource, which cannot send headers: a client with the key asks for one, then
 * opens `/api/events?token=…`. A token is good for one stream and a short time: one that leaks
 * through a proxy log or the browser's history opens nothing afterwards. In memory only.
 */
export class StreamTokens {
  // Insertion order is expiry order: every token gets the same lifetime.
  private readonly tokens = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxOutstanding = MAX_OUTSTANDING_TOKENS,
  ) {}

  issue(now = Date.now()): { token: string; expiresAt: Date } {
    for (const [t, exp] of this.tokens) {
      if (exp > now && this.tokens.size < this.maxOutstanding) break;
      this.tokens.delete(t);
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, now + this.ttlMs);
    return { token, expiresAt: new Date(now + this.ttlMs) };
  }

  /** True once for a valid token: the token is spent by the check. */
  consume(token: unknown, now = Date.now()): boolean {
    if (typeof token !== 'string') return false;
    const expires = this.tokens.get(token);
    this.tokens.delete(token);
    return expires !== undefined && expires > now;
  }

  get outstanding(): number {
    return this.tokens.size;
  }
}

/**
 * `GET /api/events`: Server-Sent Events of the fleet's events (status changes, QR codes, health
 * and memory alerts). Authenticated by the usual header, or by a stream token in the query. A bad,
 * spent or expired token is a failed attempt like a wrong key (a token is a credential to guess
 * too), and an address over the limit is refused before its token is looked at. At most
 * `maxStreams` are open at once (each holds a socket and a listener); a reader that falls
 * `slowReaderBytes` behind is dropped.
 */
export function eventsRouter(fleet: Fleet, tokens: StreamTokens, requireKey: ApiKeyGuard, options: StreamOptions): Router {
  const router = Router();
  const slowReaderBytes = options.slowReaderBytes ?? SLOW_READER_BYTES;
  let open = 0;
  router.post('/api/events/token', requireKey, (_req, res) => {
    const { token, expiresAt } = tokens.issue();
    res.json({ token, expiresAt: expiresAt.toISOString() });
  });
  const keyOrToken = requireKey.or((req) => (req.query.token === undefined ? undefined : tokens.consume(req.query.token)), 'stream token unknown, spent or expired');
  router.get('/api/events', keyOrToken, (_req, res, next) => {
    if (open >= options.maxStreams) {
      res.setHeader('Retry-After', '10');
      return next(new AppError('TOO_MANY_STREAMS', `${options.maxStreams} event streams are open (SSE_MAX_STREAMS)`));
    }
    open++;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(`retry: 3000\n\n`);
    const send = (chunk: string) => {
      if (res.writableLength > slowReaderBytes) return drop(res);
      res.write(chunk);
    };
    const off = fleet.events.onAny((name, payload) => send(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`));
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
    let closed = false;
    res.on('close', () => {
      if (closed) return;
      closed = true;
      open--;
      clearInterval(heartbeat);
      off();
    });
  });
  return router;
}

/** Ends a stream whose reader stopped reading; the socket goes at once, unsent events with it. */
function drop(res: Response): void {
  res.destroy();
}
