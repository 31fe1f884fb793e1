import type { RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../lib/timeout.js';
import type { Pool } from '../../src/db/pool.js';
import type { ClusterRun } from '../support/cluster-run.js';
import type { ClusterSample, ClusterSampler } from './sampler.js';

/** One instance of the node a scenario took away: where it went and how long until CONNECTED there. */
export interface Moved {
  id: string;
  to: string | null;
  /** From the fault to the first sample showing it CONNECTED on another node; null: never within the bound. */
  ms: number | null;
  /** A sample showed it QR_REQUIRED after the fault, or an audit event of a QR was written. */
  qr: boolean;
}

export interface ScenarioResult {
  scenario: 'sigkill' | 'sigstop' | 'mysql_cut' | 'graceful_stop';
  node: string;
  moved: Moved[];
  /** What went wrong, one line each; empty: the scenario's promises held. */
  problems: string[];
  /** Facts the scenario checked besides the timings (refused writes, browsers left …). */
  notes: string[];
}

export interface FailoverSettings {
  leaseTtlMs: number;
  leaseRenewMs: number;
  /** Bound on kill → CONNECTED elsewhere for every instance. */
  moveBoundMs: number;
}

/** Called the moment a scenario's fault hits (a chaos run's message stream resumes then). */
export type OnHit = () => void;

/** The instances a node runs now, from the latest sample. */
export function heldBy(sample: ClusterSample | undefined, node: string): string[] {
  return (sample?.rows ?? []).filter((r) => r.owner === node).map((r) => r.id);
}

/** Audit events that showed a QR for these instances after `since` (the database's word, besides the samples). */
async function qrEvents(pool: Pool, ids: string[], since: Date): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const [rows] = await pool.query<RowDataPacket[]>("SELECT DISTINCT instance_id FROM instance_events WHERE instance_id IN (?) AND occurred_at >= ? AND to_status = 'QR_REQUIRED'", [ids, since]);
  return new Set(rows.map((r) => r.instance_id as string));
}

/** Waits until each of `ids` is CONNECTED under a live owner other than `from`; one Moved per instance. */
async function movedAway(sampler: ClusterSampler, pool: Pool, ids: string[], from: string, t0: number, boundMs: number): Promise<Moved[]> {
  const done = (s: ClusterSample, id: string) => {
    const row = s.rows.find((r) => r.id === id);
    return !!row && row.owner !== null && row.owner !== from && row.status === 'CONNECTED';
  };
  await sampler.until(t0, (s) => ids.every((id) => done(s, id)), boundMs);
  const after = sampler.history.filter((s) => s.at >= t0);
  const qr = await qrEvents(pool, ids, new Date(t0 - 1_000));
  return ids.map((id) => {
    const first = after.find((s) => done(s, id));
    const sawQr = after.some((s) => s.rows.find((r) => r.id === id)?.status === 'QR_REQUIRED') || qr.has(id);
    return { id, to: first?.rows.find((r) => r.id === id)?.owner ?? null, ms: first ? first.at - t0 : null, qr: sawQr };
  });
}

function movedProblems(moved: Moved[], boundMs: number): string[] {
  const problems: string[] = [];
  for (const m of moved) {
    if (m.ms === null) problems.push(`${m.id} was not CONNECTED on another node within ${boundMs} ms`);
    if (m.qr) problems.push(`${m.id} showed a QR after the move`);
  }
  return problems;
}

async function maxEventId(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS id FROM instance_events');
  return Number(rows[0]!.id);
}

/** Audit events a node recorded after event `afterId` (its writes after it lost its leases). */
async function eventsBy(pool: Pool, node: string, afterId: number, ids: string[]): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM instance_events WHERE id > ? AND node = ? AND instance_id IN (?)', [afterId, node, ids]);
  return Number(rows[0]!.n);
}

/** A node's fencing counters from its /metrics. */
export async function fencingRefusals(run: ClusterRun, node: string): Promise<number | null> {
  const res = await fetch(`${run.node(node).url}/metrics`, { headers: { 'x-api-key': run.apiKey } }).catch(() => null);
  if (!res?.ok) return null;
  const m = new RegExp(`wafleet_cluster_lease_events\\{node="${node}",kind="fencing_refusals"\\} (\\d+)`).exec(await res.text());
  return m ? Number(m[1]) : null;
}

/** SIGKILL of a node's supervisor: its instances are CONNECTED elsewhere within the bound, without a QR. */
export async function killNode(run: ClusterRun, sampler: ClusterSampler, pool: Pool, node: string, s: FailoverSettings, onHit: OnHit = () => undefined): Promise<ScenarioResult> {
  const ids = heldBy((await sampler.fresh()) ?? undefined, node);
  const t0 = Date.now();
  run.node(node).process.signal('SIGKILL');
  onHit();
  const moved = await movedAway(sampler, pool, ids, node, t0, s.moveBoundMs);
  return { scenario: 'sigkill', node, moved, problems: [...(ids.length === 0 ? [`${node} ran no instance`] : []), ...movedProblems(moved, s.moveBoundMs)], notes: [] };
}

/**
 * SIGSTOP of a node's supervisor for 2 × LEASE_TTL_MS (its workers run on: they must stop
 * themselves), then SIGCONT: its instances moved meanwhile, it writes nothing for them after the
 * thaw, and no browser of it is left for them one renewal interval after.
 */
export async function freezeNode(run: ClusterRun, sampler: ClusterSampler, pool: Pool, node: string, s: FailoverSettings, onHit: OnHit = () => undefined): Promise<ScenarioResult> {
  const ids = heldBy((await sampler.fresh()) ?? undefined, node);
  const problems: string[] = ids.length === 0 ? [`${node} ran no instance`] : [];
  const t0 = Date.now();
  run.node(node).process.signal('SIGSTOP');
  onHit();
  await sleep(2 * s.leaseTtlMs);
  const moved = await movedAway(sampler, pool, ids, node, t0, Math.max(0, 2 * s.leaseTtlMs - (Date.now() - t0)) + 1);
  const stillThere = moved.filter((m) => m.ms === null).map((m) => m.id);
  if (stillThere.length > 0) problems.push(`not moved while ${node} was stopped: ${stillThere.join(', ')}`);
  const lastEvent = await maxEventId(pool);
  run.node(node).process.signal('SIGCONT');
  const thawedAt = Date.now();
  await sleep(s.leaseRenewMs);
  const sample = await sampler.fresh();
  if (!sample) problems.push('no sample could be taken after the thaw');
  const left = (sample?.browsers ?? []).filter((b) => b.node === node && ids.includes(b.instanceId));
  if (left.length > 0) problems.push(`${left.length} browser(s) of ${node} still running ${s.leaseRenewMs} ms after the thaw: ${left.map((b) => b.instanceId).join(', ')}`);
  // Anything it had queued would have been written by now if fencing let it through.
  await sleep(s.leaseRenewMs);
  const written = await eventsBy(pool, node, lastEvent, ids);
  if (written > 0) problems.push(`${node} wrote ${written} audit event(s) for instances it no longer held after the thaw`);
  const refused = await fencingRefusals(run, node);
  return {
    scenario: 'sigstop',
    node,
    moved,
    problems: [...problems, ...movedProblems(moved, 2 * s.leaseTtlMs).filter((p) => !p.includes('was not CONNECTED'))],
    notes: [`after the thaw (${new Date(thawedAt).toISOString()}): ${written} event(s) written by ${node}, ${refused ?? 'unknown'} write(s) refused by fencing, ${left.length} browser(s) left`],
  };
}

/**
 * A node loses MySQL alone (its relay is cut): it stops its browsers before its leases lapse, the
 * others take its instances, and the other nodes' instances never change owner or leave CONNECTED.
 */
export async function cutDatabase(run: ClusterRun, sampler: ClusterSampler, pool: Pool, node: string, s: FailoverSettings, onHit: OnHit = () => undefined): Promise<ScenarioResult> {
  const before = (await sampler.fresh()) ?? undefined;
  const ids = heldBy(before, node);
  const others = (before?.rows ?? []).filter((r) => r.owner !== null && r.owner !== node).map((r) => ({ id: r.id, owner: r.owner, epoch: r.epoch }));
  const problems: string[] = ids.length === 0 ? [`${node} ran no instance`] : [];
  const t0 = Date.now();
  run.node(node).proxy.cut();
  onHit();
  const moved = await movedAway(sampler, pool, ids, node, t0, s.moveBoundMs);
  problems.push(...movedProblems(moved, s.moveBoundMs));
  const left = ((await sampler.fresh())?.browsers ?? []).filter((b) => b.node === node);
  if (left.length > 0) problems.push(`${node} still runs ${left.length} browser(s) without its database`);
  for (const sample of sampler.history.filter((x) => x.at >= t0)) {
    for (const o of others) {
      const row = sample.rows.find((r) => r.id === o.id);
      if (row && (row.owner !== o.owner || row.epoch !== o.epoch || row.status !== 'CONNECTED')) {
        problems.push(`${o.id} of ${o.owner} was disturbed while ${node} was cut off (${row.status} on ${row.owner ?? 'no node'}, epoch ${row.epoch})`);
        break;
      }
    }
  }
  run.node(node).proxy.restore();
  return { scenario: 'mysql_cut', node, moved, problems: [...new Set(problems)], notes: [`${others.length} instance(s) of the other nodes watched through the cut`] };
}

/** SIGTERM: the node hands every instance over (no lease left to lapse) and exits; they are CONNECTED elsewhere, no QR. */
export async function stopNode(run: ClusterRun, sampler: ClusterSampler, pool: Pool, node: string, s: FailoverSettings, onHit: OnHit = () => undefined): Promise<ScenarioResult> {
  const ids = heldBy((await sampler.fresh()) ?? undefined, node);
  const problems: string[] = ids.length === 0 ? [`${node} ran no instance`] : [];
  const t0 = Date.now();
  const stopping = run.node(node).process.stop(30_000);
  onHit();
  const exit = await stopping;
  if (!exit || exit.code !== 0) problems.push(`${node} did not exit 0 after SIGTERM (${JSON.stringify(exit)})`);
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM instances WHERE owner_node = ? AND lease_until > NOW(3)', [node]);
  const leftLeases = Number(rows[0]!.n);
  if (leftLeases > 0) problems.push(`${node} left ${leftLeases} lease(s) to lapse`);
  const moved = await movedAway(sampler, pool, ids, node, t0, s.moveBoundMs);
  problems.push(...movedProblems(moved, s.moveBoundMs));
  return { scenario: 'graceful_stop', node, moved, problems, notes: [`exited in ${Date.now() - t0} ms or less; ${leftLeases} lease(s) left behind`] };
}
