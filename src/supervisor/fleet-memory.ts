import { BYTES_PER_MIB, expectedCost } from './admission.js';
import type { MemorySampler } from '../checks/memory-sampler.js';
import type { InstanceHandle } from './instance/handle.js';
import type { FleetMemoryMeasurement } from './start-gate.js';

/** A running instance's reading older than this is read again by the next measurement (within its budget). */
export const MEASURE_MAX_AGE_MS = 1_000;
/**
 * /proc time one measurement may spend re-reading instances it has already read. smaps_rollup
 * walks every mapping of a process: about 3 ms per process on a loaded 2-core machine, so 40
 * Chromium trees (~280 processes) cost most of a second; read in full on every decision, that is
 * an event loop the API cannot answer in. New workers are always read at once, outside the budget.
 */
const MEASURE_BUDGET_MS = 25;
/** The same workers asked again this soon get the same measurement (a burst of decisions, a report and a health read). */
const MEASURE_REUSE_MS = 250;

/**
 * The fleet's memory measured from /proc, cheaply enough to be asked before every start: what the
 * start gate decides on, the memory report and the dashboard show.
 */
export class FleetMemory {
  private measurement: { value: FleetMemoryMeasurement; of: string } | null = null;

  constructor(
    private readonly sampler: MemorySampler,
    private readonly expectedMb: number,
  ) {}

  /**
   * The fleet's memory now: PSS of every running worker and its Chromium tree read from /proc,
   * and the expected cost of one more instance (median of the CONNECTED/QR_REQUIRED ones, else
   * INSTANCE_EXPECTED_MB). What the start gate decides on, and what the memory report and the
   * dashboard show. A worker just installed (never read) is always read at once; readings older
   * than `maxAgeMs` are read again oldest first within MEASURE_BUDGET_MS, so every decision sees
   * each new browser and a measurement never blocks the event loop for long; the same workers
   * asked again within MEASURE_REUSE_MS get the same answer.
   */
  measure(handles: readonly InstanceHandle[], maxAgeMs = MEASURE_MAX_AGE_MS): FleetMemoryMeasurement {
    const now = Date.now();
    const targets = handles.flatMap((h) => {
      const w = h.currentWorker;
      return w?.pid ? [{ id: h.id, workerPid: w.pid, browserPid: w.browserPid }] : [];
    });
    const of = targets.map((t) => `${t.id}:${t.workerPid}/${t.browserPid ?? '-'}`).join(' ');
    if (this.measurement && this.measurement.of === of && now - this.measurement.value.at <= Math.min(maxAgeMs, MEASURE_REUSE_MS)) return this.measurement.value;
    this.sampler.prune(new Set(targets.map((t) => t.id)));
    // A worker never read (just installed, or a new pid) is read now; the others oldest first, within the budget.
    const due: Array<{ at: number; target: (typeof targets)[number] }> = [];
    for (const target of targets) {
      const latest = this.sampler.latest(target.id);
      if (!latest || latest.workerPid !== target.workerPid || latest.browserPid !== target.browserPid) this.sampler.sampleOne(target, now, false);
      else if (now - latest.at > maxAgeMs) due.push({ at: latest.at, target });
    }
    due.sort((a, b) => a.at - b.at);
    const deadline = performance.now() + MEASURE_BUDGET_MS;
    for (const { target } of due) {
      if (performance.now() > deadline) break;
      this.sampler.sampleOne(target, now, false);
    }
    const byInstance = new Map<string, number>();
    const running: Array<{ status: string; bytes: number }> = [];
    for (const h of handles) {
      const latest = h.currentWorker ? this.sampler.latest(h.id) : null;
      if (!latest) continue;
      const bytes = (latest.workerPssBytes ?? 0) + (latest.browserPssBytes ?? 0);
      byInstance.set(h.id, bytes);
      running.push({ status: h.core.status, bytes });
    }
    const expected = expectedCost(running, this.expectedMb * BYTES_PER_MIB);
    let totalBytes = 0;
    for (const bytes of byInstance.values()) totalBytes += bytes;
    const value: FleetMemoryMeasurement = { at: now, totalBytes, byInstance, expectedBytes: expected.bytes, expectedFrom: expected.from };
    this.measurement = { value, of };
    return value;
  }
}
