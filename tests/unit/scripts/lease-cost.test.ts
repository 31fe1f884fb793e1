import { describe, expect, it } from 'vitest';
import {
  counterDelta,
  cronTicks,
  expectedStatements,
  modelTable,
  otherRate,
  parseStatus,
  rate,
  statementTable,
  stillCounters,
  workTable,
} from '../../../scripts/bench/support/lease-cost-report.js';

const status = (o: Record<string, number>) => new Map(Object.entries(o));

describe('bench:lease-cost report', () => {
  it('reads SHOW GLOBAL STATUS rows, keeping numbers only', () => {
    const s = parseStatus([
      { Variable_name: 'Questions', Value: '120' },
      { Variable_name: 'Com_select', Value: 7 },
      { Variable_name: 'Ssl_cipher', Value: '' },
      { Variable_name: 'Uptime_since_flush_status', Value: 'n/a' },
      { Variable_name: 'Nothing', Value: null },
    ]);
    expect([...s.entries()]).toEqual([
      ['Questions', 120],
      ['Com_select', 7],
    ]);
  });

  it('turns two readings into deltas and rates, with the closing SHOW taken off Questions', () => {
    const before = status({ Questions: 1_000, Com_select: 500, Com_update: 10, Com_begin: 4, Com_commit: 4, Com_set_option: 2 });
    const after = status({ Questions: 1_121, Com_select: 560, Com_update: 40, Com_begin: 14, Com_commit: 14, Com_set_option: 7 });
    const d = counterDelta(before, after, 10_000);
    expect(d.delta.get('Questions')).toBe(120);
    expect(d.delta.get('Com_update')).toBe(30);
    expect(d.delta.has('Com_delete')).toBe(false); // not on this server: no figure, not zero
    expect(rate(d, 'Questions')).toBe(12);
    expect(rate(d, 'Com_select')).toBe(6);
    expect(rate(d, 'Com_delete')).toBeNull();
    // 12/s in all, 6 + 3 + 1 + 1 of them listed: the rest are SET/SHOW…
    expect(otherRate(d)).toBeCloseTo(1, 10);
  });

  it('refuses a counter that went down and a window of no length', () => {
    expect(() => counterDelta(status({ Questions: 10 }), status({ Questions: 5 }), 1_000)).toThrow(/went down/);
    expect(() => counterDelta(status({ Questions: 1 }), status({ Questions: 2 }), 0)).toThrow(RangeError);
  });

  it('names the counters that did not move: a window that measured nothing fails', () => {
    const d = counterDelta(status({ Questions: 10, Com_select: 3, Com_update: 5 }), status({ Questions: 11, Com_select: 9, Com_update: 5 }), 1_000);
    // Questions moved by the closing SHOW only: that is the bench's own statement, not the product's.
    expect(stillCounters(d, ['Questions', 'Com_select', 'Com_update', 'Com_begin'])).toEqual(['Questions', 'Com_update', 'Com_begin']);
  });

  it('prints A, B, B − A, per node and per instance', () => {
    const a = counterDelta(status({ Questions: 0, Com_select: 0, Com_update: 0 }), status({ Questions: 43, Com_select: 12, Com_update: 0 }), 10_000);
    const b = counterDelta(status({ Questions: 0, Com_select: 0, Com_update: 0 }), status({ Questions: 211, Com_select: 72, Com_update: 20 }), 10_000);
    const table = statementTable({ label: 'A', d: a }, { label: 'B', d: b }, 3, 100);
    const lines = table.split('\n');
    expect(lines[0]).toContain('statements/s (Questions)');
    expect(lines[2]).toMatch(/^\| A \| 4\.20 \| 1\.20 \| – \| 0\.00 \|/);
    expect(lines[3]).toMatch(/^\| B \| 21\.00 \| 7\.20 \| – \| 2\.00 \|/);
    expect(lines[4]).toMatch(/^\| \*\*B − A: what leases cost\*\* \| 16\.80 \| 6\.00 \| – \| 2\.00 \|/);
    expect(lines[5]).toMatch(/^\| B − A per node \(÷ 3\) \| 5\.60 \| 2\.00 \| – \| 0\.67 \|/);
    expect(lines[6]).toMatch(/^\| B − A per instance \(÷ 100\) \| 0\.168 \| 0\.060 \| – \| 0\.020 \|/);
    expect(workTable({ label: 'A', d: a }, { label: 'B', d: b })).toBe('| counter (per second) | A | B | B − A |\n| --- | ---: | ---: | ---: |');
  });

  it('counts cron-aligned ticks in a window as lib/cron-loop.ts fires them', () => {
    // From 15 s before a minute, for 60 s: the :00 and :30 health ticks, the :00 recovery tick.
    const start = 10 * 60_000 - 15_000;
    expect(cronTicks(start, start + 60_000, 30_000)).toBe(2);
    expect(cronTicks(start, start + 60_000, 60_000)).toBe(1);
    // 10 minutes is even: the deep loop (every 2 min) ticks too; at 11 minutes it does not.
    expect(cronTicks(start, start + 60_000, 120_000)).toBe(1);
    expect(cronTicks(start + 60_000, start + 120_000, 120_000)).toBe(0);
    // A tick exactly at the start counts, one exactly at the end does not.
    expect(cronTicks(600_000, 630_000, 30_000)).toBe(1);
    expect(cronTicks(5, 5, 30_000)).toBe(0);
  });

  it('expects 8 lease statements per node and renewal, and every supervisor its own timers', () => {
    const base = { windowStartMs: 10 * 60_000 - 15_000, windowEndMs: 11 * 60_000 - 15_000, leaseRenewMs: 3_000, webhookPollMs: 1_000, sweepMs: 5_000, healthIntervalMs: 30_000, deepIntervalMs: 120_000, recoveryIntervalMs: 60_000 };
    const single = expectedStatements({ ...base, nodes: 1, cluster: false });
    expect(single.some((r) => r.lease)).toBe(false);
    // 60 idle webhook polls × 1 read, 12 sweeps, 2 health + 1 deep + 1 recovery reads.
    expect(single.map((r) => r.statements)).toEqual([60, 12, 4]);
    const three = expectedStatements({ ...base, nodes: 3, cluster: true });
    const lease = three.find((r) => r.lease)!;
    // 20 renewals per node × (heartbeat, renew UPDATE + SELECT, nodes, free count, markDead BEGIN/SELECT/COMMIT).
    expect(lease.statements).toBe(3 * 20 * 8);
    expect(lease.perNodePerSecond).toBeCloseTo(8 / 3, 10);
    expect(lease.detail).toEqual({ update: 120, select: 240, begin: 60, commit: 60 });
    expect(three.filter((r) => !r.lease).map((r) => r.statements)).toEqual([180, 36, 12]);
  });

  it('sets the model beside the measurement and shows what is left unexplained', () => {
    const rows = expectedStatements({ nodes: 1, cluster: false, windowStartMs: 45_000, windowEndMs: 55_000, leaseRenewMs: 3_000, webhookPollMs: 1_000, sweepMs: 5_000, healthIntervalMs: 30_000, deepIntervalMs: 120_000, recoveryIntervalMs: 60_000 });
    const d = counterDelta(status({ Questions: 0 }), status({ Questions: 16 }), 10_000);
    const table = modelTable('A', rows, d, 1);
    // 10 idle polls, 2 sweeps, no check-loop tick in [45 s, 55 s).
    expect(table).toContain('| **expected, all sources** |  | 12 | 1.20 | 1.20 |');
    expect(table).toContain('| **measured (Questions)** |  | 15 | 1.50 | 1.50 |');
    expect(table).toContain('| measured − expected |  | 3 | 0.30 | 0.30 |');
  });
});
