/** The API bench's table and verdicts. Pure: no I/O here. */
import type { RouteLoad } from './route-load.js';
import type { ServerPauses } from './server-pauses.js';
import { DASH, renderTable } from './table.js';

/** The must-show: p99 at or under this on every judged route. */
export const P99_LIMIT_MS = 10;

export interface RouteRow {
  /** As shown, e.g. `GET /api/instance/:id/details`. */
  route: string;
  /** Judged against P99_LIMIT_MS; false for the floor (the trivial route), shown but not judged. */
  judged: boolean;
  /** Null when the load could not run at all. */
  load: RouteLoad | null;
  /** The requests per second the load was paced at; absent: as fast as answers came (closed loop). */
  rate?: number;
  /** CPU time of the server's process per response, in µs, over the measured load; null when it did not run. */
  serverCpuUs: number | null;
  /** How late the server's event loop ran a 1 ms timer during the measured load (p99, max), in ms; null when it did not run. */
  loopDelayMs: { p99: number; max: number } | null;
  /** Garbage collection and waiting for a core during the measured load (support/server-pauses.ts); absent or null when not measured. */
  pauses?: ServerPauses | null;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** Whole milliseconds as they are, anything finer with one decimal. */
const ms = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(1));

/** `200: 51234, 404: 3`, lowest code first. */
export function describeStatusCodes(codes: Record<string, number>): string {
  const entries = Object.entries(codes).sort(([a], [b]) => Number(a) - Number(b));
  return entries.length === 0 ? DASH : entries.map(([code, count]) => `${code}: ${count}`).join(', ');
}

/** A paced load must have been served at this share of its rate at least: a server too slow to keep up is no pass, however its answers are timed. */
export const SERVED_SHARE_MIN = 0.95;

/** Requests per second a load got answers for over its whole run. */
export const servedRate = (load: RouteLoad): number => load.total / Math.max(load.durationSec, 1e-9);

/** Whether a load paced at `rate` fell short of it (false for a closed-loop load). */
export function fellBehind(load: RouteLoad, rate: number | undefined): boolean {
  return rate !== undefined && servedRate(load) < rate * SERVED_SHARE_MIN;
}

/**
 * Whether a route meets the must-show: it ran, answered every request with a 2xx and without a
 * connection error or timeout (a fast error is no pass), kept up with the rate it was paced at,
 * and its p99 is at most P99_LIMIT_MS.
 */
export function meetsLimit(load: RouteLoad | null, rate?: number): boolean {
  return load !== null && load.total > 0 && load.non2xx === 0 && load.errors === 0 && !fellBehind(load, rate) && load.latencyP99Ms <= P99_LIMIT_MS;
}

/** `yes`, or `NO` with why; the floor's cell says `floor` after the same figures. */
export function verdict(row: RouteRow): string {
  const { load } = row;
  const why =
    load === null
      ? 'not run'
      : load.total === 0
        ? 'no response'
        : load.non2xx + load.errors > 0
          ? `${load.non2xx} non-2xx, ${load.errors} errors`
          : fellBehind(load, row.rate)
            ? `served ${Math.round(servedRate(load))} of ${row.rate} requests/s`
            : `p99 ${ms(load.latencyP99Ms)} ms`;
  const ok = meetsLimit(load, row.rate);
  if (!row.judged) return `floor (${ok ? 'yes' : 'no'})`;
  return ok ? 'yes' : `NO (${why})`;
}

/** The judged routes that miss the limit (the bench exits non-zero when there is any). */
export function failures(rows: readonly RouteRow[]): RouteRow[] {
  return rows.filter((r) => r.judged && !meetsLimit(r.load, r.rate));
}

export function routeTable(rows: readonly RouteRow[]): string {
  const header = [
    'route',
    'requests/s (mean)',
    'p50 (ms)',
    'p99 (ms)',
    'p99.9 (ms)',
    'max (ms)',
    'requests',
    'non-2xx',
    'errors (timeouts)',
    'status codes',
    'server CPU/request (µs)',
    'event-loop delay p99 / max (ms)',
    'GC pauses: count, total / max (ms)',
    'waited for a core (ms/s)',
    `p99 ≤ ${P99_LIMIT_MS} ms`,
  ];
  const body = rows.map((row) => {
    const { route, load } = row;
    return load === null
      ? [route, DASH, DASH, DASH, DASH, DASH, DASH, DASH, DASH, 'not run', DASH, DASH, DASH, DASH, verdict(row)]
      : [
          route,
          String(Math.round(load.requestsPerSec)),
          ms(load.latencyP50Ms),
          ms(load.latencyP99Ms),
          ms(load.latencyP999Ms),
          ms(load.latencyMaxMs),
          String(load.total),
          String(load.non2xx),
          `${load.errors} (${load.timeouts})`,
          describeStatusCodes(load.statusCodes),
          row.serverCpuUs === null ? DASH : String(Math.round(row.serverCpuUs)),
          row.loopDelayMs === null ? DASH : `${Math.round(row.loopDelayMs.p99)} / ${Math.round(row.loopDelayMs.max)}`,
          row.pauses ? `${row.pauses.gc.count}, ${ms(round1(row.pauses.gc.totalMs))} / ${ms(round1(row.pauses.gc.maxMs))}` : DASH,
          row.pauses?.waitedForCoreMsPerSec == null ? DASH : String(Math.round(row.pauses.waitedForCoreMsPerSec)),
          verdict(row),
        ];
  });
  return renderTable(header, body);
}
