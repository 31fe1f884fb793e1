import { soakVerdict, type SoakVerdict } from '../soak/verdict.js';

export interface LifeSample {
  /** Epoch ms. */
  t: number;
  /** PSS in bytes. */
  v: number;
  /** Which start of the supervisor the sample belongs to (a restart starts a new process). */
  life: number;
}

export interface SupervisorMemoryRule {
  /** Samples this soon after a life's first are its warm-up (caches, JIT), not growth. */
  warmupMs: number;
  /** A life is judged on its own, and the run's peaks compared, only over at least this long. */
  minLifeMs: number;
  /** The last third's highest PSS may exceed the first third's by this fraction… */
  maxRise: number;
  /** …and by this many bytes, before the run counts as growing. */
  minRiseBytes: number;
}

export const SUPERVISOR_MEMORY_RULE: SupervisorMemoryRule = { warmupMs: 60_000, minLifeMs: 10 * 60_000, maxRise: 0.2, minRiseBytes: 20 * 1024 ** 2 };

export interface SupervisorMemoryVerdict {
  /** Highest PSS in the first and in the last third of the run (null: no sample there). */
  firstThirdMaxBytes: number | null;
  lastThirdMaxBytes: number | null;
  /** The longest life, after its warm-up, judged as the soak judges (null when none lasted minLifeMs). */
  longestLife: SoakVerdict | null;
  violations: string[];
}

const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(0);

/**
 * Whether the supervisor grew across a chaos run. The chaos run restarts it every few faults, so a
 * short life's climb is its warm-up, not a leak; what a leak or an ever-growing cache would show
 * instead is peaks that rise through the run (the last third's highest PSS above the first
 * third's), or a long life that keeps rising.
 */
export function judgeSupervisorMemory(samples: readonly LifeSample[], rule: SupervisorMemoryRule = SUPERVISOR_MEMORY_RULE): SupervisorMemoryVerdict {
  const violations: string[] = [];
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  let firstThirdMaxBytes: number | null = null;
  let lastThirdMaxBytes: number | null = null;
  if (sorted.length > 0) {
    const start = sorted[0]!.t;
    const span = sorted.at(-1)!.t - start;
    const highest = (list: LifeSample[]) => (list.length === 0 ? null : Math.max(...list.map((s) => s.v)));
    firstThirdMaxBytes = highest(sorted.filter((s) => s.t - start <= span / 3));
    lastThirdMaxBytes = highest(sorted.filter((s) => s.t - start >= (2 * span) / 3));
    // Over a short run the first third is little more than the first warm-up: nothing to compare.
    if (firstThirdMaxBytes !== null && lastThirdMaxBytes !== null && span >= rule.minLifeMs) {
      const rise = lastThirdMaxBytes - firstThirdMaxBytes;
      if (rise > rule.minRiseBytes && rise > firstThirdMaxBytes * rule.maxRise) {
        violations.push(`supervisor PSS peaks rose through the run: ${mib(firstThirdMaxBytes)} MiB in the first third, ${mib(lastThirdMaxBytes)} MiB in the last`);
      }
    }
  }
  const lives = new Map<number, LifeSample[]>();
  for (const s of sorted) lives.set(s.life, [...(lives.get(s.life) ?? []), s]);
  const judged = [...lives.values()]
    .map((life) => life.filter((s) => s.t - life[0]!.t >= rule.warmupMs))
    .filter((life) => life.length > 0 && life.at(-1)!.t - life[0]!.t >= rule.minLifeMs)
    .sort((a, b) => b.length - a.length)[0];
  const longestLife = judged ? soakVerdict(judged) : null;
  if (longestLife?.growing) {
    violations.push(`supervisor PSS grows ${longestLife.slopeMiBPerHour.toFixed(1)} ± ${longestLife.spreadMiBPerHour.toFixed(1)} MiB/h over ${longestLife.n} samples of one life (${longestLife.reason})`);
  }
  return { firstThirdMaxBytes, lastThirdMaxBytes, longestLife, violations };
}
