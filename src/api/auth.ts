import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { ipv6Groups, parseIp, type IpRange } from '../config/addresses.js';
import { DatabaseUnavailableError, ERRORS } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import { ScopedKeys, type Principal, type Verified } from './scoped-keys.js';

export interface AuthOptions {
  /** API_KEY: the admin key itself, or `sha256:<hex>`, the SHA-256 of the key (the environment then never holds the key). */
  apiKey: string | undefined;
  disabled: boolean;
  failuresPerMinute: number;
  log: Logger;
  /** Per-instance keys; without them only the admin key is accepted. */
  scopedKeys?: { verify(key: string): Promise<Verified> };
  now?: () => number;
}

/** The failed-attempt window: a bucket over its limit is refused until this long after its first failure. */
export const AUTH_WINDOW_MS = 60_000;
/** Buckets tracked at most; past it the expired go first, then the oldest. */
export const MAX_TRACKED_BUCKETS = 10_000;

/**
 * The limiter's bucket for a client address. IPv4 counts per address (an IPv4-mapped IPv6
 * address, `::ffff:1.2.3.4`, as that IPv4 address); IPv6 per /64, the smallest block a
 * subscriber is given, whose 2^64 addresses would otherwise each be a fresh bucket.
 */
export function clientBucket(ip: string | undefined): string {
  const parsed = ip === undefined ? null : parseIp(ip);
  if (!parsed) return 'unknown';
  if (parsed.family === 'ipv4') return parsed.address;
  return `${ipv6Groups(parsed.address).slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/**
 * express's `trust proxy` for `TRUSTED_PROXIES`: X-Forwarded-For is read only through hops from
 * these addresses, so `req.ip` is the first address to the left of the trusted proxies. With no
 * proxies the header is ignored and `req.ip` is the socket's address.
 */
export function trustProxies(ranges: readonly IpRange[]): (address: string) => boolean {
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(r.address, r.prefix, r.family);
  return (address) => {
    const parsed = ranges.length > 0 ? parseIp(address) : null;
    return parsed !== null && list.check(parsed.address, parsed.family);
  };
}

/**
 * Failed attempts per bucket in fixed windows that start at a bucket's first failure. Memory is
 * bounded under a spray of addresses: past MAX_TRACKED_BUCKETS the expired records are dropped,
 * then the oldest (which lets a spray of that many addresses free a blocked one: an attacker who
 * has them gets as many guesses anyway).
 */
export class FailedAttempts {
  // Insertion order is the order of `since`: a record is only ever added fresh or re-added after expiry.
  private readonly records = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = AUTH_WINDOW_MS,
    private readonly maxTracked = MAX_TRACKED_BUCKETS,
  ) {}

  get size(): number {
    return this.records.size;
  }

  /** Milliseconds until `bucket` may try again; 0 when it may now. */
  blockedFor(bucket: string, t: number): number {
    const record = this.current(bucket, t);
    return record && record.count >= this.limit ? record.since + this.windowMs - t : 0;
  }

  /** Counts a failure; true when it is the one that reaches the limit. */
  fail(bucket: string, t: number): boolean {
    const record = this.current(bucket, t);
    if (record) return ++record.count === this.limit;
    this.records.set(bucket, { count: 1, since: t });
    if (this.records.size > this.maxTracked) this.shrink(t);
    return this.limit === 1;
  }

  private current(bucket: string, t: number) {
    const record = this.records.get(bucket);
    if (record && t - record.since >= this.windowMs) this.records.delete(bucket);
    return this.records.get(bucket);
  }

  /**
   * Drops from the oldest end every expired record, then more until 90 % of the bound is left:
   * a steady spray pays for one short sweep per 10 % of new buckets, never a full scan per request.
   */
  private shrink(t: number): void {
    const target = Math.floor(this.maxTracked * 0.9);
    for (const [bucket, record] of this.records) {
      if (this.records.size <= target && t - record.since < this.windowMs) return;
      this.records.delete(bucket);
    }
  }
}

/** Whether a request's other credential is good, or undefined when it brings none (the key is then required). */
export type Credential = (req: Request) => boolean | undefined;

export interface ApiKeyGuard extends RequestHandler {
  /** The same guard (and the same failure count) accepting `credential` in place of the key; a bad one is a failure, refused with `refusal`. */
  or(credential: Credential, refusal: string): RequestHandler;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The SHA-256 the admin key must have: of API_KEY, or the one API_KEY names as `sha256:<hex>`. */
export function adminKeyDigest(apiKey: string | undefined): Buffer | null {
  if (!apiKey) return null;
  const hashed = /^sha256:([0-9a-f]{64})$/i.exec(apiKey);
  return hashed ? Buffer.from(hashed[1]!, 'hex') : digest(apiKey);
}

const INSTANCE_PATH = /^\/api\/instance\/([^/]+)(?:\/(.*))?$/i;
const DEMO_PATH = /^\/api\/demo\/([^/]+)\/[^/]+\/?$/i;

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * What an instance's own key may reach: its instance's routes (details, enable, disable, restart,
 * logout, QR, pairing code, its webhook and webhook secret, demo actions) and this document; not
 * the fleet (list, create, health, memory, checks, metrics, event stream, dead-lettered
 * webhooks), another instance, key management, or deleting the instance. Express matches paths
 * case-insensitively and with an optional trailing slash; so does this. The routes check the
 * instance id again (requireScope), so a path this misreads still reaches nothing else.
 */
export function scopeAllows(principal: Principal, method: string, path: string): boolean {
  if (principal.kind === 'admin') return true;
  if (/^\/api\/openapi\.json\/?$/i.test(path)) return method === 'GET' || method === 'HEAD';
  const demo = DEMO_PATH.exec(path);
  if (demo) return decoded(demo[1]!) === principal.instanceId;
  const own = INSTANCE_PATH.exec(path);
  if (!own || decoded(own[1]!) !== principal.instanceId) return false;
  const rest = (own[2] ?? '').replace(/\/{2,}/g, '/').replace(/^\/|\/$/g, '').toLowerCase();
  if (rest === '') return method !== 'DELETE';
  return rest !== 'keys' && !rest.startsWith('keys/');
}

/**
 * `X-API-Key` on every route it guards. Compared as SHA-256 digests with timingSafeEqual, so
 * neither the key's content nor its length leaks through timing. Failed attempts are counted per
 * client bucket (see clientBucket); past the limit every request from that bucket gets 429 until
 * its window is over, without the key being compared at all: the right key included, or the
 * limit would not slow guessing. An operator behind the same address as the guesser waits out
 * the window, or names the reverse proxy in TRUSTED_PROXIES so each client counts on its own.
 *
 * Besides the admin key, an instance's own key (`wfk_…`, see ScopedKeys) is accepted: it counts
 * in the same limiter when wrong, and reaches only what scopeAllows lets it (403 FORBIDDEN_SCOPE
 * otherwise, not counted as a failure: the key is genuine). The request's principal is left in
 * `res.locals.principal` for the routes (principalOf).
 */
export function requireApiKey(options: AuthOptions): ApiKeyGuard {
  // Read at call time (not `Date.now` captured once), so a test's mocked clock reaches it.
  const now = options.now ?? (() => Date.now());
  const expected = adminKeyDigest(options.apiKey);
  const attempts = new FailedAttempts(options.failuresPerMinute);
  /** The principal of the X-API-Key header: admin, an instance, none (wrong), or `unavailable`. */
  const keyPrincipal = async (req: Request): Promise<Principal | null | 'unavailable'> => {
    const given = req.get('x-api-key');
    if (typeof given !== 'string') return null;
    if (expected !== null && timingSafeEqual(digest(given), expected)) return { kind: 'admin' };
    if (!options.scopedKeys || !ScopedKeys.looksScoped(given)) return null;
    const found = await options.scopedKeys.verify(given);
    return found === null || found === 'unavailable' ? found : { kind: 'instance', ...found };
  };

  const guard =
    (credential: Credential, refusal: string): RequestHandler =>
    async (req, res, next) => {
      if (options.disabled) return next();
      const bucket = clientBucket(req.ip);
      const t = now();
      const wait = attempts.blockedFor(bucket, t);
      if (wait > 0) {
        res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
        res.status(ERRORS.TOO_MANY_ATTEMPTS.status).json({ error: { code: 'TOO_MANY_ATTEMPTS', message: 'too many failed API key attempts; wait a minute' } });
        return;
      }
      const offered = credential(req);
      let principal: Principal | null | 'unavailable' = offered === true ? { kind: 'admin' } : null;
      if (offered === undefined) {
        try {
          principal = await keyPrincipal(req);
        } catch (err) {
          return next(err);
        }
      }
      // An instance key the database cannot vouch for now: not a wrong key, so not a failed attempt.
      if (principal === 'unavailable') return next(new DatabaseUnavailableError());
      if (principal) {
        res.locals.principal = principal;
        if (scopeAllows(principal, req.method, req.originalUrl.split('?')[0] ?? '')) return next();
        res.status(ERRORS.FORBIDDEN_SCOPE.status).json({ error: { code: 'FORBIDDEN_SCOPE', message: "this key is an instance's own key: it reaches that instance only" } });
        return;
      }
      const reachedLimit = attempts.fail(bucket, t);
      options.log.warn('rejected a request without a valid API key', { ip: req.ip, path: req.path });
      if (reachedLimit) options.log.warn(`failed-key limit reached: ${bucket} is refused for ${AUTH_WINDOW_MS / 1000} s`, { ip: req.ip });
      const message = offered === undefined ? 'missing or wrong X-API-Key' : refusal;
      res.status(ERRORS.UNAUTHORIZED.status).json({ error: { code: 'UNAUTHORIZED', message } });
    };

  const keyOnly = guard(() => undefined, '');
  return Object.assign(keyOnly, { or: guard });
}
