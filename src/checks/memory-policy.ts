import { detectLeak, type TrendSample } from '../../lib/trend.js';

/** The MB of every *_MB setting and of the trend: /proc reports KiB, so MiB. */
export const BYTES_PER_MB = 1024 * 1024;

export interface InstanceMemorySample {
  id: string;
  /** A worker runs for the instance; only running instances count and can be restarted. */
  running: boolean;
  /** PSS of the worker process; null when it could not be read (just exited, not started yet). */
  workerPssBytes: number | null;
  /** PSS of the whole Chromium tree of the worker. */
  browserPssBytes: number | null;
  /** The page's JS heap (part of the browser's PSS, so not added to the total). */
  pageHeapBytes: number | null;
  /** Total PSS (worker + browser) over time, oldest first or in any order; the caller clears it on restart. */
  history: TrendSample[];
}

export interface LeakSettings {
  /** LEAK_SLOPE_MB_PER_HOUR: sustained growth at or above this rate is a leak. */
  slopeThresholdMbPerHour: number;
  /** LEAK_MIN_SAMPLES: samples in the window needed before a leak can be concluded. */
  minSamples: number;
  /** LEAK_WINDOW_MS: only history this recent is judged. */
  windowMs: number;
  /** The in-window history must span at least this long; default half the window. */
  minSpanMs?: number;
}

export interface MemoryPolicyInput {
  now: number;
  instances: InstanceMemorySample[];
  capInstanceBytes: number;
  capFleetBytes: number;
  /** Percent of capFleetBytes at which the fleet level is `warn` (reached, not exceeded). */
  warnPercent: number;
  /** Percent of capFleetBytes at which it is `critical`. */
  criticalPercent: number;
  leak: LeakSettings;
}

export type MemoryLevel = 'ok' | 'warn' | 'critical';
export type MemoryAction = 'none' | 'restart_over_cap' | 'restart_leak' | 'restart_largest';

export interface InstanceMemoryDecision {
  id: string;
  running: boolean;
  workerPssBytes: number | null;
  browserPssBytes: number | null;
  pageHeapBytes: number | null;
  /** Worker + browser PSS; a part not sampled counts 0, so a missing sample never causes a restart. */
  totalBytes: number;
  capUsedPercent: number;
  /** Least-squares slope of the in-window history; null with fewer than two distinct sample times. */
  trendMbPerHour: number | null;
  leakSuspected: boolean;
  leakReason: string;
  action: MemoryAction;
}

export interface FleetMemory {
  /** Sum of the running instances' totals. */
  totalBytes: number;
  capBytes: number;
  usedPercent: number;
  level: MemoryLevel;
}

export interface MemoryDecision {
  fleet: FleetMemory;
  instances: InstanceMemoryDecision[];
  /** True at the critical level: starting another browser would make things worse. */
  refuseNewStarts: boolean;
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`decideMemory: ${name} must be a finite number > 0, got ${value}`);
}

function requireInput(input: MemoryPolicyInput): void {
  requirePositive('capInstanceBytes', input.capInstanceBytes);
  requirePositive('capFleetBytes', input.capFleetBytes);
  requirePositive('warnPercent', input.warnPercent);
  requirePositive('criticalPercent', input.criticalPercent);
  requirePositive('leak.windowMs', input.leak.windowMs);
  if (input.warnPercent > input.criticalPercent) {
    throw new RangeError(`decideMemory: warnPercent (${input.warnPercent}) must not exceed criticalPercent (${input.criticalPercent})`);
  }
}

function known(bytes: number | null): number {
  return bytes !== null && Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
}

/**
 * The leak verdict over the history inside the window. The series is judged in MB against the
 * MB/h threshold rather than in bytes against threshold * BYTES_PER_MB: the verdict is the same
 * (every test in detectLeak scales with the unit) and its reason reads "slope 60/h", not "6.29e+7/h".
 */
function leakVerdict(sample: InstanceMemorySample, input: MemoryPolicyInput): { trend: number | null; suspected: boolean; reason: string } {
  const { now, leak } = input;
  const from = now - leak.windowMs;
  const inWindow = sample.history
    .filter((s) => Number.isFinite(s.t) && Number.isFinite(s.v) && s.t >= from && s.t <= now)
    .map((s) => ({ t: s.t, v: s.v / BYTES_PER_MB }));
  const verdict = detectLeak(inWindow, {
    minSamples: leak.minSamples,
    minSpanMs: leak.minSpanMs ?? leak.windowMs / 2,
    slopeThresholdPerHour: leak.slopeThresholdMbPerHour,
  });
  const trend = Number.isFinite(verdict.slopePerHour) ? verdict.slopePerHour : null;
  return { trend, suspected: verdict.suspected, reason: verdict.reason };
}

function instanceDecision(sample: InstanceMemorySample, input: MemoryPolicyInput): InstanceMemoryDecision {
  const { id, running, workerPssBytes, browserPssBytes, pageHeapBytes } = sample;
  const totalBytes = running ? known(workerPssBytes) + known(browserPssBytes) : 0;
  const leak = running ? leakVerdict(sample, input) : { trend: null, suspected: false, reason: 'not running' };
  let action: MemoryAction = 'none';
  if (running && totalBytes > input.capInstanceBytes) action = 'restart_over_cap';
  else if (leak.suspected) action = 'restart_leak';
  return {
    id,
    running,
    workerPssBytes,
    browserPssBytes,
    pageHeapBytes,
    totalBytes,
    capUsedPercent: (totalBytes / input.capInstanceBytes) * 100,
    trendMbPerHour: leak.trend,
    leakSuspected: leak.suspected,
    leakReason: leak.reason,
    action,
  };
}

function fleetLevel(usedPercent: number, input: MemoryPolicyInput): MemoryLevel {
  if (usedPercent >= input.criticalPercent) return 'critical';
  if (usedPercent >= input.warnPercent) return 'warn';
  return 'ok';
}

/**
 * Memory decisions for the fleet, from the latest samples. Per instance, first match wins:
 *  - total PSS strictly above capInstanceBytes          → restart_over_cap
 *  - a sustained upward trend in the window (detectLeak) → restart_leak; a flat instance is never
 *    a leak however large it is (the cap is what limits that one)
 * Fleet: usedPercent >= criticalPercent is critical: new starts are refused and the largest
 * running instance is restarted (restart_largest), unless it is already being restarted for one
 * of the reasons above, which frees the same memory; one instance per decision, so a critical
 * fleet sheds memory one browser at a time instead of all at once. warn only sets the level.
 * Ties for the largest go to the first in input order. Instances that are not running count 0
 * and are never restarted. The caller runs its forced GC before acting on restart_leak.
 */
export function decideMemory(input: MemoryPolicyInput): MemoryDecision {
  requireInput(input);
  const instances = input.instances.map((sample) => instanceDecision(sample, input));
  const totalBytes = instances.reduce((sum, i) => sum + i.totalBytes, 0);
  const usedPercent = (totalBytes / input.capFleetBytes) * 100;
  const level = fleetLevel(usedPercent, input);
  if (level === 'critical') {
    const largest = instances.reduce<InstanceMemoryDecision | null>(
      (best, i) => (i.running && i.totalBytes > 0 && (best === null || i.totalBytes > best.totalBytes) ? i : best),
      null,
    );
    if (largest && largest.action === 'none') largest.action = 'restart_largest';
  }
  return {
    fleet: { totalBytes, capBytes: input.capFleetBytes, usedPercent, level },
    instances,
    refuseNewStarts: level === 'critical',
  };
}
