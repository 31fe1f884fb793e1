import type { Config } from '../config/index.js';
import { BYTES_PER_MB, type LeakSettings } from './memory-policy.js';
import type { VerdictRules } from './verdict.js';

/** Everything the check loops need, in one plain object: tests build one with short intervals directly. */
export interface CheckSettings {
  healthIntervalMs: number;
  /** The health (and deep) loop's first tick waits this long after start(), so a fresh boot settles first. */
  healthStartDelayMs: number;
  pingTimeoutMs: number;
  deepIntervalMs: number;
  recoveryIntervalMs: number;
  memoryIntervalMs: number;
  memorySampleIntervalMs: number;
  /** Instances one loop works on at the same time. */
  concurrency: number;
  rules: VerdictRules;
  /**
   * A recovery step succeeds when the instance is CONNECTED again (QR_REQUIRED for one never
   * linked, or after a cleanup) within this bound: the old worker's stop plus a new one's start.
   */
  recoveryTimeoutMs: number;
  memory: {
    capInstanceBytes: number;
    capFleetBytes: number;
    warnPercent: number;
    criticalPercent: number;
    leak: LeakSettings;
  };
}

export function checkSettings(config: Config): CheckSettings {
  return {
    healthIntervalMs: config.healthCheckIntervalMs,
    healthStartDelayMs: config.healthCheckStartDelayMs,
    pingTimeoutMs: config.healthCheckTimeoutMs,
    deepIntervalMs: config.deepCheckIntervalMs,
    recoveryIntervalMs: config.recoveryIntervalMs,
    memoryIntervalMs: config.memoryCheckIntervalMs,
    memorySampleIntervalMs: config.memorySampleIntervalMs,
    concurrency: config.checkConcurrency,
    rules: {
      stuckAfterMs: config.stuckStateTimeoutMs,
      zombiePingFailures: config.zombiePingFailures,
      errorBudget: { count: config.errorBudgetCount, windowMs: config.errorBudgetWindowMs },
      maxRecoveryAttempts: config.maxRecoveryAttempts,
    },
    recoveryTimeoutMs: config.workerStopTimeoutMs + config.workerStartTimeoutMs,
    memory: {
      capInstanceBytes: config.instanceMemoryCapMb * BYTES_PER_MB,
      capFleetBytes: config.fleetMemoryCapMb * BYTES_PER_MB,
      warnPercent: config.memoryWarnPercent,
      criticalPercent: config.memoryCriticalPercent,
      leak: { slopeThresholdMbPerHour: config.leakSlopeMbPerHour, minSamples: config.leakMinSamples, windowMs: config.leakWindowMs },
    },
  };
}
