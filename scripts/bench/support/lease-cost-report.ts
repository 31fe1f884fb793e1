/**
 * The pure part of `npm run bench:lease-cost` (scripts/bench/lease-cost.ts): MariaDB status
 * counter deltas turned into statements per second, the B − A difference per node and per
 * instance, and the statements the code is expected to issue in a window (what each supervisor
 * runs on a timer), to set beside the measurement.
 */
import { DASH, renderTable } from './table.js';

/** `SHOW GLOBAL STATUS` counters the statement table is made of, in its column order. */
export const STATEMENT_COUNTERS = ['Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_begin', 'Com_commit', 'Com_rollback'] as const;
export type StatementCounter = (typeof STATEMENT_COUNTERS)[number];

/** Further counters printed for what the statements cost the server: rows read and sent, handler calls, redo-log bytes, fsyncs (MariaDB 10.11 names). */
export const WORK_COUNTERS = ['Com_set_option', 'Rows_read', 'Rows_sent', 'Handler_read_key', 'Handler_update', 'Handler_write', 'Innodb_os_log_written', 'Innodb_data_fsyncs'] as const;

export const ALL_COUNTERS = ['Questions', ...STATEMENT_COUNTERS, ...WORK_COUNTERS] as const;

export type Status = ReadonlyMap<string, number>;

/** `SHOW GLOBAL STATUS` rows → name → value (non-numeric values dropped). */
export function parseStatus(rows: ReadonlyArray<{ Variable_name: string; Value: string | number | null }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) {
    const n = Number(r.Value);
    if (r.Value !== null && r.Value !== '' && Number.isFinite(n)) out.set(r.Variable_name, n);
  }
  return out;
}

export interface CounterDelta {
  /** Counter → increase over the window (absent: the server has no such counter). */
  delta: Map<string, number>;
  /** Statements the bench's own connection ran inside the window, taken off `Questions`. */
  own: number;
  windowMs: number;
}

/**
 * The increase of every counter between two readings. `own` statements of the measuring
 * connection (its closing SHOW GLOBAL STATUS counts in Questions) are taken off Questions.
 * A counter that went down (server restarted) is an error: the window is not comparable.
 */
export function counterDelta(before: Status, after: Status, windowMs: number, own = 1): CounterDelta {
  if (!(windowMs > 0)) throw new RangeError(`window must be > 0 ms, got ${windowMs}`);
  const delta = new Map<string, number>();
  for (const name of ALL_COUNTERS) {
    const a = before.get(name);
    const b = after.get(name);
    if (a === undefined || b === undefined) continue;
    if (b < a) throw new Error(`${name} went down (${a} → ${b}): did the server restart during the window?`);
    delta.set(name, name === 'Questions' ? Math.max(0, b - a - own) : b - a);
  }
  return { delta, own, windowMs };
}

/** Per second, for one counter (null: not on this server). */
export function rate(d: CounterDelta, name: string): number | null {
  const v = d.delta.get(name);
  return v === undefined ? null : (v * 1000) / d.windowMs;
}

/** Questions not among the listed statement counters (SET, SHOW…), per second. */
export function otherRate(d: CounterDelta): number | null {
  const q = rate(d, 'Questions');
  if (q === null) return null;
  return q - STATEMENT_COUNTERS.reduce((sum, c) => sum + (rate(d, c) ?? 0), 0);
}

/** The counters every phase must see move: a window in which they did not measured nothing. */
export function stillCounters(d: CounterDelta, required: readonly string[]): string[] {
  return required.filter((c) => (d.delta.get(c) ?? 0) <= 0);
}

const fmt = (v: number | null, digits: number): string => (v === null ? DASH : v.toFixed(digits));

export interface PhaseRates {
  label: string;
  d: CounterDelta;
}

const RATE_COLUMNS = ['Questions', ...STATEMENT_COUNTERS] as const;
const HEADER_NAMES: Record<string, string> = {
  Questions: 'statements/s (Questions)',
  Com_select: 'SELECT',
  Com_insert: 'INSERT',
  Com_update: 'UPDATE',
  Com_delete: 'DELETE',
  Com_begin: 'BEGIN',
  Com_commit: 'COMMIT',
  Com_rollback: 'ROLLBACK',
};

function rateCells(values: (name: string) => number | null, other: number | null, digits: number): string[] {
  return [...RATE_COLUMNS.map((c) => fmt(values(c), digits)), fmt(other, digits)];
}

/**
 * The main table: A's and B's statements per second, then B − A (what leases and the extra nodes
 * cost), B − A per node, and B − A per instance.
 */
export function statementTable(a: PhaseRates, b: PhaseRates, nodes: number, instances: number): string {
  const header = ['run', ...RATE_COLUMNS.map((c) => HEADER_NAMES[c]!), 'other (SET, SHOW…)'];
  const diff = (name: string): number | null => {
    const x = rate(a.d, name);
    const y = rate(b.d, name);
    return x === null || y === null ? null : y - x;
  };
  const diffOther = (() => {
    const x = otherRate(a.d);
    const y = otherRate(b.d);
    return x === null || y === null ? null : y - x;
  })();
  const per = (n: number) => (name: string) => {
    const v = diff(name);
    return v === null ? null : v / n;
  };
  const rows = [
    [a.label, ...rateCells((c) => rate(a.d, c), otherRate(a.d), 2)],
    [b.label, ...rateCells((c) => rate(b.d, c), otherRate(b.d), 2)],
    ['**B − A: what leases cost**', ...rateCells(diff, diffOther, 2)],
    [`B − A per node (÷ ${nodes})`, ...rateCells(per(nodes), diffOther === null ? null : diffOther / nodes, 2)],
    [`B − A per instance (÷ ${instances})`, ...rateCells(per(instances), diffOther === null ? null : diffOther / instances, 3)],
  ];
  return renderTable(header, rows, 1);
}

/** Rows touched and log flushes per second, A, B and B − A. */
export function workTable(a: PhaseRates, b: PhaseRates): string {
  const names = WORK_COUNTERS.filter((c) => a.d.delta.has(c) || b.d.delta.has(c));
  const rows = names.map((c) => {
    const x = rate(a.d, c);
    const y = rate(b.d, c);
    return [c, fmt(x, 2), fmt(y, 2), x === null || y === null ? DASH : fmt(y - x, 2)];
  });
  return renderTable(['counter (per second)', a.label, b.label, 'B − A'], rows, 1);
}

// ---------------------------------------------------------------------------------------------
// What the code issues on timers, to compare with the measurement.

/** Statement counts of one kind of work, as the code issues them. */
export type Statements = Partial<Record<'select' | 'insert' | 'update' | 'delete' | 'begin' | 'commit' | 'other', number>>;

/**
 * CLUSTER=on, per node and renewal interval (src/cluster/cluster-node.ts, src/db/cluster-repository.ts):
 * heartbeat (UPDATE nodes), renew (UPDATE instances … + SELECT id, lease_epoch), then the placement
 * pass it wakes: claim() reads the nodes (SELECT … FROM nodes with a COUNT per node) and the free
 * count (SELECT COUNT(*)), claims nothing in a steady state (quota 0), and markDead() runs
 * BEGIN, SELECT … FOR UPDATE SKIP LOCKED, COMMIT.
 */
export const RENEWAL: Statements = { update: 2, select: 4, begin: 1, commit: 1 };
/**
 * Per supervisor and webhook poll (src/webhooks/outbox.ts claimDue, every second when idle): one
 * plain read finds nothing due (the claim's transaction only runs when something is).
 */
export const WEBHOOK_POLL: Statements = { select: 1 };
/** Per supervisor and message sweep (src/messages/sender.ts, every 5 s): instancesWithWaiting. */
export const MESSAGE_SWEEP: Statements = { select: 1 };
/** Per supervisor and check-loop tick (health, deep, recovery): one read of the instance rows (fleet.rows()); nothing written while nothing changes. */
export const LOOP_READ: Statements = { select: 1 };

export interface ModelInput {
  /** Supervisors in the run. */
  nodes: number;
  cluster: boolean;
  windowStartMs: number;
  windowEndMs: number;
  leaseRenewMs: number;
  webhookPollMs: number;
  sweepMs: number;
  healthIntervalMs: number;
  deepIntervalMs: number;
  recoveryIntervalMs: number;
}

/** Cron-aligned ticks (lib/cron-loop.ts intervalToCron: multiples of the interval on the clock) in [start, end). */
export function cronTicks(startMs: number, endMs: number, intervalMs: number): number {
  if (endMs <= startMs) return 0;
  return Math.ceil(endMs / intervalMs) - Math.ceil(startMs / intervalMs);
}

export interface ModelRow {
  source: string;
  /** Statements in the window, all supervisors together. */
  statements: number;
  perNodePerSecond: number;
  lease: boolean;
  detail: Statements;
}

const total = (s: Statements): number => Object.values(s).reduce((a, b) => a + (b ?? 0), 0);
const times = (s: Statements, n: number): Statements => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, (v ?? 0) * n])) as Statements;

/** The statements the run's supervisors issue on timers in the window, by source. Fixed-interval timers are counted as window / interval. */
export function expectedStatements(m: ModelInput): ModelRow[] {
  const windowMs = m.windowEndMs - m.windowStartMs;
  const seconds = windowMs / 1000;
  const row = (source: string, each: Statements, perNode: number, lease: boolean): ModelRow => {
    const detail = times(each, perNode * m.nodes);
    const statements = total(detail);
    return { source, statements, perNodePerSecond: statements / m.nodes / seconds, lease, detail };
  };
  const ticks = (interval: number) => cronTicks(m.windowStartMs, m.windowEndMs, interval);
  const rows: ModelRow[] = [];
  if (m.cluster) rows.push(row(`lease renewal + placement pass (every ${m.leaseRenewMs / 1000} s)`, RENEWAL, windowMs / m.leaseRenewMs, true));
  rows.push(row(`webhook outbox poll (every ${m.webhookPollMs / 1000} s)`, WEBHOOK_POLL, windowMs / m.webhookPollMs, false));
  rows.push(row(`message sweep (every ${m.sweepMs / 1000} s)`, MESSAGE_SWEEP, windowMs / m.sweepMs, false));
  const h = ticks(m.healthIntervalMs);
  const d = ticks(m.deepIntervalMs);
  const r = ticks(m.recoveryIntervalMs);
  rows.push(row(`check loops' row reads (${h} health, ${d} deep, ${r} recovery tick(s) in the window)`, LOOP_READ, h + d + r, false));
  return rows;
}

/** The model beside the measurement: each source's statements per second, summed, and what is left unexplained. */
export function modelTable(label: string, rows: readonly ModelRow[], d: CounterDelta, nodes: number): string {
  const seconds = d.windowMs / 1000;
  const measured = d.delta.get('Questions') ?? 0;
  const expected = rows.reduce((s, r) => s + r.statements, 0);
  const body = rows.map((r) => [r.source, r.lease ? 'yes' : 'no', String(Math.round(r.statements)), (r.statements / seconds).toFixed(2), r.perNodePerSecond.toFixed(2)]);
  body.push(['**expected, all sources**', '', String(Math.round(expected)), (expected / seconds).toFixed(2), (expected / nodes / seconds).toFixed(2)]);
  body.push(['**measured (Questions)**', '', String(measured), (measured / seconds).toFixed(2), (measured / nodes / seconds).toFixed(2)]);
  body.push(['measured − expected', '', String(Math.round(measured - expected)), ((measured - expected) / seconds).toFixed(2), ((measured - expected) / nodes / seconds).toFixed(2)]);
  return renderTable([`${label}: source`, 'lease?', 'statements in window', 'per second', 'per node per second'], body, 2);
}
