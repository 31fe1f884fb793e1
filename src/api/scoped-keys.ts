import type { Response } from 'express';
import { apiKeys, hashKey, SCOPED_KEY_PREFIX } from '../db/api-keys-repository.js';
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors/index.js';

/** Who a request acts as: the admin key (everything), or an instance's own key (that instance only). */
export type Principal = { kind: 'admin' } | { kind: 'instance'; instanceId: string; keyId: string };

const ADMIN: Principal = { kind: 'admin' };

/** The principal the API key guard put on the response (admin when authentication is disabled). */
export function principalOf(res: Response): Principal {
  return (res.locals.principal as Principal | undefined) ?? ADMIN;
}

/** FORBIDDEN_SCOPE unless the request was made with the admin key. */
export function requireAdmin(res: Response): void {
  if (principalOf(res).kind !== 'admin') throw new AppError('FORBIDDEN_SCOPE', 'only the admin key may do this');
}

/** FORBIDDEN_SCOPE when an instance's key reaches for another instance. */
export function requireScope(res: Response, instanceId: string): void {
  const p = principalOf(res);
  if (p.kind === 'instance' && p.instanceId !== instanceId) throw new AppError('FORBIDDEN_SCOPE', 'this key reaches its own instance only');
}

/** A verified scoped key, or `unavailable`: the database could not say, and the key was not seen recently. */
export type Verified = { keyId: string; instanceId: string } | null | 'unavailable';

export interface ScopedKeyOptions {
  pool: Pool;
  /** A read behind the journal's circuit: null while the database is away. */
  read: <T>(query: () => Promise<T>) => Promise<T | null>;
  /** How long a verified key is trusted without asking the database again. Default 30 s. */
  ttlMs?: number;
  /** How long a key verified before keeps working while the database is unreachable. Default 15 min. */
  outageGraceMs?: number;
  /** Verified keys remembered at most; past it the oldest go. Default 10 000. */
  maxCached?: number;
  now?: () => number;
}

interface Cached {
  keyId: string;
  instanceId: string;
  verifiedAt: number;
}

/**
 * Per-instance keys, looked up by the SHA-256 of the key (a unique index) and remembered for a
 * short TTL, so a busy key costs one query per TTL (which also marks it used), and a key seen in
 * the last `outageGraceMs` keeps working while the database is unreachable. A key never seen
 * cannot be checked then: `unavailable` (the API answers 503, not 401). Revoking a key or
 * removing its instance forgets it here at once; another supervisor on the same database stops
 * honouring it within the TTL. Only hashes are held in memory, never keys.
 */
export class ScopedKeys {
  private readonly cache = new Map<string, Cached>();
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly maxCached: number;
  private readonly now: () => number;
  /** Bumped by every forget: a lookup that started before it must not cache what it read. */
  private generation = 0;

  constructor(private readonly options: ScopedKeyOptions) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.graceMs = options.outageGraceMs ?? 15 * 60_000;
    this.maxCached = options.maxCached ?? 10_000;
    this.now = options.now ?? (() => Date.now());
  }

  /** Whether `key` has the shape of a scoped key (worth a lookup at all). */
  static looksScoped(key: string): boolean {
    return key.startsWith(SCOPED_KEY_PREFIX) && key.length <= 100;
  }

  async verify(key: string): Promise<Verified> {
    const hash = hashKey(key);
    const t = this.now();
    const cached = this.cache.get(hash);
    if (cached && t - cached.verifiedAt < this.ttlMs) return { keyId: cached.keyId, instanceId: cached.instanceId };
    const generation = this.generation;
    const answer = await this.options.read(async () => ({ found: await apiKeys.findByHash(this.options.pool, hash) }));
    if (answer === null) {
      // The database is away: a key verified recently enough still works.
      if (cached && t - cached.verifiedAt < this.graceMs) return { keyId: cached.keyId, instanceId: cached.instanceId };
      return 'unavailable';
    }
    const found = answer.found;
    if (!found) {
      this.cache.delete(hash);
      return null;
    }
    if (generation === this.generation) this.remember(hash, { keyId: found.keyId, instanceId: found.instanceId, verifiedAt: t });
    void apiKeys.touch(this.options.pool, found.keyId, new Date(t)).catch(() => undefined);
    return { keyId: found.keyId, instanceId: found.instanceId };
  }

  /** A revoked key stops working here at once. */
  forgetKey(keyId: string): void {
    this.generation++;
    for (const [hash, c] of this.cache) if (c.keyId === keyId) this.cache.delete(hash);
  }

  /** A removed instance's keys stop working here at once. */
  forgetInstance(instanceId: string): void {
    this.generation++;
    for (const [hash, c] of this.cache) if (c.instanceId === instanceId) this.cache.delete(hash);
  }

  private remember(hash: string, entry: Cached): void {
    this.cache.delete(hash);
    this.cache.set(hash, entry);
    while (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
  }
}
