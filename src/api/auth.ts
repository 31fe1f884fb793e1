import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ERRORS } from '../errors/index.js';
import type { Logger } from '../logger/index.js';

export interface AuthOptions {
  apiKey: string | undefined;
  disabled: boolean;
  failuresPerMinute: number;
  log: Logger;
  now?: () => number;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `X-API-Key` on every route it guards. Compared as SHA-256 digests with timingSafeEqual, so
 * neither the key's content nor its length leaks through timing. Failed attempts are counted
 * per client address; past the limit the address gets 429 for any wrong or missing key until
 * its minute is over, while the right key is still served.
 */
export function requireApiKey(options: AuthOptions): RequestHandler {
  const now = options.now ?? Date.now;
  const expected = options.apiKey ? digest(options.apiKey) : null;
  const failures = new Map<string, { count: number; since: number }>();
  return (req, res, next) => {
    if (options.disabled) return next();
    const ip = req.ip ?? 'unknown';
    const t = now();
    const record = failures.get(ip);
    if (record && t - record.since > 60_000) failures.delete(ip);
    // Bounded memory under a spray from many addresses: drop the expired records.
    if (failures.size > 10_000) for (const [k, v] of failures) if (t - v.since > 60_000) failures.delete(k);
    // The right key is always served: a burst of bad guesses from a shared address (a reverse
    // proxy, a NAT, the same host) must not lock the operator out of their own fleet. Guessing a
    // key of 16+ random characters is hopeless anyway; the limit is there to slow and log it.
    const given = req.get('x-api-key');
    if (expected && typeof given === 'string' && timingSafeEqual(digest(given), expected)) return next();
    const current = failures.get(ip);
    if (current && current.count >= options.failuresPerMinute) {
      res.setHeader('Retry-After', String(Math.ceil((current.since + 60_000 - t) / 1000)));
      res.status(ERRORS.TOO_MANY_ATTEMPTS.status).json({ error: { code: 'TOO_MANY_ATTEMPTS', message: 'too many failed API key attempts; wait a minute' } });
      return;
    }
    failures.set(ip, { count: (current?.count ?? 0) + 1, since: current?.since ?? t });
    options.log.warn('rejected a request without a valid API key', { ip, path: req.path });
    res.status(ERRORS.UNAUTHORIZED.status).json({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong X-API-Key' } });
  };
}
