import type { MemorySampler } from './memory-sampler.js';
import { BYTES_PER_MB, type MemoryDecision } from './memory-policy.js';
import type { CheckSettings } from './settings.js';

const mb = (bytes: number | null): number | null => (bytes === null ? null : Math.round((bytes / BYTES_PER_MB) * 10) / 10);
const round1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export interface InstanceMemoryReport {
  instanceId: string;
  running: boolean;
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

export interface MemoryReport {
  sampledAt: string | null;
  fleet: { totalMb: number; capMb: number; usedPercent: number; level: string; refusingStarts: string | null };
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

/** `GET /api/memory/report`: the latest samples and the policy's verdicts on them, in MB. Pure. */
export function memoryReport(decision: MemoryDecision, sampler: MemorySampler, settings: CheckSettings, refusingStarts: string | null): MemoryReport {
  const supervisor = sampler.supervisor;
  const { memory } = settings;
  return {
    sampledAt: iso(supervisor?.at),
    fleet: {
      totalMb: mb(decision.fleet.totalBytes) ?? 0,
      capMb: mb(decision.fleet.capBytes) ?? 0,
      usedPercent: round1(decision.fleet.usedPercent) ?? 0,
      level: decision.fleet.level,
      refusingStarts,
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
    instances: decision.instances.map((d) => {
      const latest = sampler.latest(d.id);
      return {
        instanceId: d.id,
        running: d.running,
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
    }),
  };
}
