/** The API bench's table. Pure: no I/O here. */
import type { RouteLoad } from './route-load.js';
import { DASH, renderTable } from './table.js';

export interface RouteRow {
  /** As shown, e.g. `GET /api/instance/:id/details`. */
  route: string;
  /** Null when the load could not run at all. */
  load: RouteLoad | null;
}

/** Whole milliseconds as they are, anything finer with one decimal. */
const ms = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(1));

/** `200: 51234, 404: 3`, lowest code first. */
export function describeStatusCodes(codes: Record<string, number>): string {
  const entries = Object.entries(codes).sort(([a], [b]) => Number(a) - Number(b));
  return entries.length === 0 ? DASH : entries.map(([code, count]) => `${code}: ${count}`).join(', ');
}

export function routeTable(rows: readonly RouteRow[]): string {
  const header = [
    'route',
    'requests/s (mean)',
    'latency p50 (ms)',
    'latency p99 (ms)',
    'latency max (ms)',
    'requests',
    'non-2xx',
    'errors (timeouts)',
    'status codes',
  ];
  const body = rows.map(({ route, load }) =>
    load === null
      ? [route, DASH, DASH, DASH, DASH, DASH, DASH, DASH, 'not run']
      : [
          route,
          String(Math.round(load.requestsPerSec)),
          ms(load.latencyP50Ms),
          ms(load.latencyP99Ms),
          ms(load.latencyMaxMs),
          String(load.total),
          String(load.non2xx),
          `${load.errors} (${load.timeouts})`,
          describeStatusCodes(load.statusCodes),
        ],
  );
  return renderTable(header, body);
}
