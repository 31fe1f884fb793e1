import type { FleetMemoryMeasurement, StartGateStats } from '../supervisor/start-gate.js';
import type { MemorySampler } from './memory-sampler.js';
import { BYTES_PER_MB, type InstanceMemoryDecision, type MemoryDecision } from './memory-policy.js';
import type { CheckSettings } from './settings.js';

const mb = (bytes: number | null): number | null => (bytes === null ? null : Math.round((bytes / BYTES_PER_MB) * 10) / 10);
const round1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Where an instance stands as to memory: measured, being launched (not measurable yet), waiting at the start gate, or without a worker. */
export type InstanceMemoryState = 'running' | 'launching' | 'waiting' | 'stopped';

export interface InstanceMemoryReport {
  instanceId: string;
  running: boolean;
  state: InstanceMemoryState;
  /** Why its start waits at the gate, and since when; null unless `state` is `waiting`. */
  admission: { reason: string; since: string } | null;
  sampledAt: string | null;
  workerPssMb: number | null;
  workerRssMb: number | null;
  browserPssMb: number | null;
  browserRssMb: number | null;
  pageHeapMb: number | null;
  /** Worker + browser PSS. */
  totalMb: number | null;
  capUsedPercent: number | null;
  trendMbPerHour: number | null;
  leakSuspected: boolean;
  leakReason: string;
  samples: number;
}

export interface FleetMemoryReport {
  totalMb: number;
  capMb: number;
  usedPercent: number;
  level: string;
  refusingStarts: string | null;
  /** When the figures were read from /proc (the start gate's measurement, at most a second old). */
  measuredAt: string;
  /** Expected cost of one more instance, and whether it is the running instances' `median` or the `setting`. */
  expectedMb: number;
  expectedFrom: 'median' | 'setting';
  launching: number;
  launchLimit: number;
  waiting: number;
}

/** What the start gate says beside the measurement. */
export interface AdmissionFacts {
  refusingStarts: string | null;
  measurement: FleetMemoryMeasurement;
  gate: StartGateStats;
  /** Instances whose admitted launch is in progress. */
  launching: readonly string[];
  waiting: ReadonlyArray<{ id: string; reason: string; since: Date }>;
}

export interface MemoryReport {
  sampledAt: string | null;
  fleet: FleetMemoryReport;
  supervisor: { heapUsedMb: number; heapTotalMb: number; rssMb: number; pssMb: number | null } | null;
  thresholds: {
    instanceCapMb: number;
    fleetCapMb: number;
    warnPercent: number;
    criticalPercent: number;
    leakSlopeMbPerHour: number;
    leakWindowMs: number;
    leakMinSamples: number;
    sampleIntervalMs: number;
  };
  instances: InstanceMemoryReport[];
}

function stateOf(running: boolean, id: string, waiting: ReadonlyMap<string, unknown>, launching: ReadonlySet<string>): InstanceMemoryState {
  if (running) return 'running';
  if (waiting.has(id)) return 'waiting';
  return launching.has(id) ? 'launching' : 'stopped';
}

/**
 * `GET /api/memory/report`: the start gate's current measurement and the policy's verdicts on
 * it, in MB, with the gate's queue. Pure.
 */
export function memoryReport(decision: MemoryDecision, sampler: MemorySampler, settings: CheckSettings, admission: AdmissionFacts): MemoryReport {
  const supervisor = sampler.supervisor;
  const { memory } = settings;
  // Looked up per instance: maps, not a scan of the queue per instance.
  const waiting = new Map(admission.waiting.map((w) => [w.id, w]));
  const launching = new Set(admission.launching);
  return {
    sampledAt: iso(supervisor?.at),
    fleet: {
      totalMb: mb(decision.fleet.totalBytes) ?? 0,
      capMb: mb(decision.fleet.capBytes) ?? 0,
      usedPercent: round1(decision.fleet.usedPercent) ?? 0,
      level: decision.fleet.level,
      refusingStarts: admission.refusingStarts,
      measuredAt: new Date(admission.measurement.at).toISOString(),
      expectedMb: mb(admission.measurement.expectedBytes) ?? 0,
      expectedFrom: admission.measurement.expectedFrom,
      launching: admission.gate.launching,
      launchLimit: admission.gate.limit,
      waiting: admission.gate.waiting,
    },
    supervisor: supervisor && {
      heapUsedMb: mb(supervisor.heapUsedBytes) ?? 0,
      heapTotalMb: mb(supervisor.heapTotalBytes) ?? 0,
      rssMb: mb(supervisor.rssBytes) ?? 0,
      pssMb: mb(supervisor.pssBytes),
    },
    thresholds: {
      instanceCapMb: mb(memory.capInstanceBytes) ?? 0,
      fleetCapMb: mb(memory.capFleetBytes) ?? 0,
      warnPercent: memory.warnPercent,
      criticalPercent: memory.criticalPercent,
      leakSlopeMbPerHour: memory.leak.slopeThresholdMbPerHour,
      leakWindowMs: memory.leak.windowMs,
      leakMinSamples: memory.leak.minSamples,
      sampleIntervalMs: settings.memorySampleIntervalMs,
    },
    instances: decision.instances.map((d) => instanceMemoryReport(d, sampler, waiting, launching)),
  };
}

/** One instance's row of the report; also what `GET /api/instance/:id/details` shows, without the rest of the fleet's. */
export function instanceMemoryReport(
  d: InstanceMemoryDecision,
  sampler: MemorySampler,
  waiting: ReadonlyMap<string, AdmissionFacts['waiting'][number]>,
  launching: ReadonlySet<string>,
): InstanceMemoryReport {
  const latest = sampler.latest(d.id);
  const wait = waiting.get(d.id);
  return {
    instanceId: d.id,
    running: d.running,
    state: stateOf(d.running, d.id, waiting, launching),
    admission: wait ? { reason: wait.reason, since: wait.since.toISOString() } : null,
    sampledAt: iso(latest?.at),
    workerPssMb: mb(d.workerPssBytes),
    workerRssMb: mb(latest?.workerRssBytes ?? null),
    browserPssMb: mb(d.browserPssBytes),
    browserRssMb: mb(latest?.browserRssBytes ?? null),
    pageHeapMb: mb(d.pageHeapBytes),
    totalMb: d.running ? mb(d.totalBytes) : null,
    capUsedPercent: d.running ? round1(d.capUsedPercent) : null,
    trendMbPerHour: round1(d.trendMbPerHour),
    leakSuspected: d.leakSuspected,
    leakReason: d.leakReason,
    samples: sampler.history(d.id).length,
  };
}
