import { DASH, renderTable, seconds } from '../bench/support/table.js';
import type { FaultKind } from './faults.js';

export interface FaultRecord {
  index: number;
  kind: FaultKind;
  target: string | null;
  at: string;
  /** Fault → the supervisor visibly noticed (API timeline); null when it has nothing to notice or was not seen. */
  detectionMs: number | null;
  /** Fault → the target (or, for fleet-wide faults, every instance) CONNECTED again; null when it never left. */
  connectedMs: number | null;
  settled: boolean;
  violations: string[];
  notes: string[];
  /** The target's changes as the API showed them, from the fault to the settle (see Timeline.changes). */
  trace?: Array<[number, string, string, number | null]>;
}

/** The p-th percentile (nearest rank) of the values, or null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface KindSummary {
  kind: FaultKind;
  count: number;
  detection: { median: number | null; p95: number | null; max: number | null };
  connected: { median: number | null; p95: number | null; max: number | null };
  violations: number;
}

const spread = (values: number[]) => ({ median: percentile(values, 50), p95: percentile(values, 95), max: percentile(values, 100) });

export function summarize(records: readonly FaultRecord[], kinds: readonly FaultKind[]): KindSummary[] {
  return kinds
    .map((kind) => {
      const of = records.filter((r) => r.kind === kind);
      const numbers = (pick: (r: FaultRecord) => number | null) => of.map(pick).filter((v): v is number => v !== null);
      return {
        kind,
        count: of.length,
        detection: spread(numbers((r) => r.detectionMs)),
        connected: spread(numbers((r) => r.connectedMs)),
        violations: of.reduce((n, r) => n + r.violations.length, 0),
      };
    })
    .filter((s) => s.count > 0);
}

/** Seconds, median / p95 / max. */
const triple = (s: { median: number | null; p95: number | null; max: number | null }) =>
  s.median === null ? DASH : `${seconds(s.median)} / ${seconds(s.p95)} / ${seconds(s.max)}`;

export function kindTable(summaries: readonly KindSummary[], finalViolations: number): string {
  const rows = summaries.map((s) => [s.kind, String(s.count), triple(s.detection), triple(s.connected), String(s.violations)]);
  const total = summaries.reduce((n, s) => n + s.count, 0);
  const faultViolations = summaries.reduce((n, s) => n + s.violations, 0);
  rows.push(['all faults', String(total), '', '', String(faultViolations)]);
  rows.push(['end of run', '', '', '', String(finalViolations)]);
  return renderTable(['fault', 'count', 'detection s (median / p95 / max)', 'to CONNECTED s (median / p95 / max)', 'violations'], rows);
}
