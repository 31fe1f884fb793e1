import { readFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { processesMatching } from '../../lib/proc-cmdline.js';
import type { Pool } from '../../src/db/pool.js';

/** One instance's row as a sample reads it. */
export interface RowSample {
  id: string;
  enabled: boolean;
  status: string;
  /** The node holding a live lease (the database's clock), else null. */
  owner: string | null;
  epoch: number;
}

/** A Chromium browser process (the main one, not a renderer) of a node, for an instance. */
export interface BrowserSample {
  instanceId: string;
  node: string;
  pid: number;
  /** Its parent: the worker that launched it. */
  parent: number | null;
}

export interface ClusterSample {
  at: number;
  rows: RowSample[];
  browsers: BrowserSample[];
}

/** Where a node's profiles live under the run's folder: <dir>/node-N/sessions/session-<id>/… */
const PROFILE = /\/(node-\d+)\/sessions\/session-([^/]+)(?:\/|$)/;

/** Clock ticks per second of /proc/<pid>/stat's start time (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;
/** A candidate younger than this is not judged yet: it may be a fork of the browser before its exec. */
const MIN_AGE_MS = 1_000;

/** The parent pid and the age (ms) of a process, from /proc; null when it is gone. */
function statOf(pid: number): { parent: number; ageMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uptimeS = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    // fields[0] is the state (3rd field of stat): the parent is the 4th, the start time the 22nd.
    return { parent: Number(fields[1]), ageMs: (uptimeS - Number(fields[19]) / TICKS_PER_SECOND) * 1000 };
  } catch {
    return null;
  }
}

/**
 * The main Chromium processes whose profile is under `dir`, by node and instance. Two kinds of
 * process show a browser's arguments without being a second browser, and are left out: one whose
 * parent is one of them (its own child, forked and not yet exec'd into a `--type=` helper), and one
 * younger than a second (Chromium double-forks its crash handler: between the fork and the exec it
 * is a copy of the browser whose parent is init). A real second browser lives on and is counted at
 * the next sample.
 */
export function browsersUnder(dir: string): BrowserSample[] {
  const found: BrowserSample[] = [];
  const candidates = processesMatching((argv) => argv.some((a) => a.startsWith('--user-data-dir=') && a.includes(dir)) && !argv.some((a) => a.startsWith('--type=')));
  const pids = new Set(candidates.map((p) => p.pid));
  for (const p of candidates) {
    const stat = statOf(p.pid);
    if (!stat || pids.has(stat.parent) || stat.ageMs < MIN_AGE_MS) continue;
    const arg = p.argv.find((a) => a.startsWith('--user-data-dir='))!;
    const m = PROFILE.exec(arg.slice('--user-data-dir='.length));
    if (m) found.push({ node: m[1]!, instanceId: m[2]!, pid: p.pid, parent: stat.parent });
  }
  return found;
}

export interface SamplerRule {
  leaseTtlMs: number;
  leaseRenewMs: number;
}

/**
 * The cluster invariants, judged on every sample (pure, so a test can feed it made-up samples):
 * never two live browsers for one instance, never an enabled instance owned by nobody for longer
 * than the lease TTL plus one claim interval.
 */
export class ClusterJudge {
  readonly violations: string[] = [];
  readonly evidence = { samples: 0, rowsSeen: 0, browsersSeen: 0, maxUnownedMs: 0 };
  private readonly unownedSince = new Map<string, number>();
  private readonly reported = new Set<string>();

  constructor(private readonly rule: SamplerRule) {}

  judge(sample: ClusterSample): void {
    this.evidence.samples++;
    this.evidence.rowsSeen += sample.rows.length;
    this.evidence.browsersSeen += sample.browsers.length;
    const byInstance = new Map<string, BrowserSample[]>();
    for (const b of sample.browsers) byInstance.set(b.instanceId, [...(byInstance.get(b.instanceId) ?? []), b]);
    for (const [id, list] of byInstance) {
      if (list.length > 1) this.once(`two:${id}:${list.map((b) => b.pid).join(',')}`, `${new Date(sample.at).toISOString()} ${id}: ${list.length} live browsers (${list.map((b) => `${b.node} pid ${b.pid} of worker ${b.parent}`).join(', ')})`);
    }
    const limit = this.rule.leaseTtlMs + this.rule.leaseRenewMs;
    for (const row of sample.rows) {
      if (!row.enabled || row.owner !== null) {
        this.unownedSince.delete(row.id);
        continue;
      }
      const since = this.unownedSince.get(row.id) ?? sample.at;
      this.unownedSince.set(row.id, since);
      const ms = sample.at - since;
      this.evidence.maxUnownedMs = Math.max(this.evidence.maxUnownedMs, ms);
      if (ms > limit) this.once(`unowned:${row.id}:${since}`, `${row.id}: enabled and owned by no node for over ${limit} ms (since ${new Date(since).toISOString()})`);
    }
  }

  private once(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.violations.push(message);
  }
}

/**
 * Every `intervalMs` (200 by default) across the whole cluster: every instance's row (status,
 * live owner, epoch) straight from MySQL, and every Chromium browser process under the run's
 * folder from /proc. Keeps the history for the scenarios' timings and judges each sample.
 */
export class ClusterSampler {
  readonly history: ClusterSample[] = [];
  readonly judge: ClusterJudge;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** Samples the database did not answer (the sampler's own connection, not a node's). */
  missed = 0;

  constructor(
    private readonly pool: Pool,
    private readonly dir: string,
    rule: SamplerRule,
    private readonly intervalMs = 200,
  ) {
    this.judge = new ClusterJudge(rule);
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async sample(): Promise<ClusterSample | null> {
    if (this.busy) return null;
    this.busy = true;
    try {
      const [rows] = await this.pool.query<RowDataPacket[]>(
        'SELECT id, enabled, connection_status, lease_epoch, IF(owner_node IS NOT NULL AND lease_until > NOW(3), owner_node, NULL) AS owner FROM instances ORDER BY id',
      );
      const sample: ClusterSample = {
        at: Date.now(),
        rows: rows.map((r) => ({ id: r.id, enabled: Number(r.enabled) === 1, status: r.connection_status, owner: r.owner ?? null, epoch: Number(r.lease_epoch) })),
        browsers: browsersUnder(this.dir),
      };
      this.history.push(sample);
      this.judge.judge(sample);
      return sample;
    } catch {
      this.missed++;
      return null;
    } finally {
      this.busy = false;
    }
  }

  /** A sample taken now (waiting for one in progress to finish first): never null unless MySQL does not answer. */
  async fresh(): Promise<ClusterSample | null> {
    for (let tries = 0; tries < 50; tries++) {
      const s = await this.sample();
      if (s) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  }

  /** The latest sample. */
  get last(): ClusterSample | undefined {
    return this.history.at(-1);
  }

  /** The first sample at or after `since` that satisfies `test`, waiting up to `timeoutMs`. */
  async until(since: number, test: (s: ClusterSample) => boolean, timeoutMs: number): Promise<ClusterSample | null> {
    const deadline = Date.now() + timeoutMs;
    let seen = this.history.findIndex((s) => s.at >= since);
    if (seen < 0) seen = this.history.length;
    for (;;) {
      for (; seen < this.history.length; seen++) if (test(this.history[seen]!)) return this.history[seen]!;
      if (Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, this.intervalMs / 2));
    }
  }
}
