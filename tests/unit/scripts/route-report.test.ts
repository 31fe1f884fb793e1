import { describe, expect, it } from 'vitest';
import { failures, meetsLimit, routeTable, verdict, type RouteRow } from '../../../scripts/bench/support/route-report.js';
import type { RouteLoad } from '../../../scripts/bench/support/route-load.js';

function load(overrides: Partial<RouteLoad> = {}): RouteLoad {
  return {
    durationSec: 10,
    requestsPerSec: 500,
    latencyP50Ms: 2,
    latencyP99Ms: 6,
    latencyP999Ms: 9,
    latencyMaxMs: 12,
    total: 5_000,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    statusCodes: { '200': 5_000 },
    ...overrides,
  };
}

const row = (l: RouteLoad | null, rate?: number): RouteRow => ({ route: 'GET /api/health', judged: true, load: l, ...(rate ? { rate } : {}), serverCpuUs: null, loopDelayMs: null });

describe('the API bench verdict', () => {
  it('passes a route with p99 at the limit and every answer a 2xx', () => {
    expect(meetsLimit(load({ latencyP99Ms: 10 }))).toBe(true);
    expect(verdict(row(load()))).toBe('yes');
  });

  it('fails a slow tail, an error answer, and a route that never ran', () => {
    expect(verdict(row(load({ latencyP99Ms: 11 })))).toBe('NO (p99 11 ms)');
    expect(verdict(row(load({ non2xx: 3 })))).toBe('NO (3 non-2xx, 0 errors)');
    expect(verdict(row(null))).toBe('NO (not run)');
    expect(verdict(row(load({ total: 0 })))).toBe('NO (no response)');
  });

  it('fails a paced route that could not keep up with its rate, however fast its answers', () => {
    // 5000 answers in 10 s: 500/s served.
    expect(verdict(row(load(), 500))).toBe('yes');
    expect(verdict(row(load(), 526))).toBe('yes');
    expect(verdict(row(load(), 600))).toBe('NO (served 500 of 600 requests/s)');
    expect(failures([row(load(), 600), row(load(), 500)])).toHaveLength(1);
  });

  it('shows the floor with its figures but never counts it as a failure', () => {
    const floor: RouteRow = { ...row(load({ latencyP99Ms: 13 })), judged: false, route: 'GET /trivial (floor)' };
    expect(verdict(floor)).toBe('floor (no)');
    expect(failures([floor])).toEqual([]);
  });

  it('shows each route’s GC pauses and wait for a core in its own row, a dash where they were not measured', () => {
    const measured: RouteRow = { ...row(load()), pauses: { gc: { count: 12, totalMs: 48.26, maxMs: 9.04 }, waitedForCoreMsPerSec: 37.4 } };
    const unread: RouteRow = { ...row(load()), route: 'GET /api/instances', pauses: { gc: { count: 0, totalMs: 0, maxMs: 0 }, waitedForCoreMsPerSec: null } };
    const lines = routeTable([measured, unread, { ...row(null), route: 'GET /trivial (floor)' }]).split('\n');
    const header = lines[0]!.split(' | ');
    const cells = (route: string) => lines.find((l) => l.startsWith(`| ${route} `))!.split(' | ');
    const gc = header.indexOf('GC pauses: count, total / max (ms)');
    const wait = header.indexOf('waited for a core (ms/s)');
    expect(gc).toBeGreaterThan(0);
    expect(cells('GET /api/health')[gc]).toBe('12, 48.3 / 9');
    expect(cells('GET /api/health')[wait]).toBe('37');
    expect(cells('GET /api/instances')[gc]).toBe('0, 0 / 0');
    expect(cells('GET /api/instances')[wait]).toBe('–');
    expect(cells('GET /trivial (floor)')[gc]).toBe('–');
  });
});
