import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import type { Fleet } from '../../supervisor/fleet.js';
import type { ApiKeyGuard } from '../auth.js';

const TOKEN_TTL_MS = 5 * 60_000;
const HEARTBEAT_MS = 15_000;

/**
 * Short-lived tokens for EventSource, which cannot send headers: a client with the key asks for
 * one, then opens `/api/events?token=…`. Tokens live in memory only and expire on their own.
 */
export class StreamTokens {
  private readonly tokens = new Map<string, number>();

  issue(now = Date.now()): { token: string; expiresAt: Date } {
    for (const [t, exp] of this.tokens) if (exp < now) this.tokens.delete(t);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, now + TOKEN_TTL_MS);
    return { token, expiresAt: new Date(now + TOKEN_TTL_MS) };
  }

  valid(token: unknown, now = Date.now()): boolean {
    return typeof token === 'string' && (this.tokens.get(token) ?? 0) > now;
  }
}

/**
 * `GET /api/events`: Server-Sent Events of the fleet's events (status changes, QR codes, health
 * and memory alerts). Authenticated by the usual header, or by a stream token in the query. A bad
 * or expired token is a failed attempt like a wrong key (a token is a credential to guess too),
 * and an address over the limit is refused before its token is looked at.
 */
export function eventsRouter(fleet: Fleet, tokens: StreamTokens, requireKey: ApiKeyGuard): Router {
  const router = Router();
  router.post('/api/events/token', requireKey, (_req, res) => {
    const { token, expiresAt } = tokens.issue();
    res.json({ token, expiresAt: expiresAt.toISOString() });
  });
  const keyOrToken = requireKey.or((req) => (req.query.token === undefined ? undefined : tokens.valid(req.query.token)), 'stream token unknown or expired');
  router.get('/api/events', keyOrToken, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(`retry: 3000\n\n`);
    const off = fleet.events.onAny((name, payload) => {
      res.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    req.on('close', () => {
      clearInterval(heartbeat);
      off();
    });
  });
  return router;
}
