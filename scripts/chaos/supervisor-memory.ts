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

/**
 * Fixed before any run. A restarted supervisor starts from nothing, so its peaks should not climb
 * at all across a run: 10 % and 10 MiB leave room for V8's heap sizing and PSS moving with other
 * processes, and no more (the earlier 20 % / 20 MiB passed a 105 → 124 MiB climb).
 */
export const SUPERVISOR_MEMORY_RULE: SupervisorMemoryRule = { warmupMs: 60_000, minLifeMs: 10 * 60_000, maxRise: 0.1, minRiseBytes: 10 * 1024 ** 2 };

export interface SupervisorMemoryVerdict {
  /** Highest PSS in the first and in the last third of the run (null: no sample there). */
  firstThirdMaxBytes: number | null;
  lastThirdMaxBytes: number | null;
  /** The longest life, after its warm-up, judged as the soak judges (null when none lasted minLifeMs). */
  longestLife: SoakVerdict | null;
  /** False when neither the run nor any life lasted minLifeMs: nothing was judged, which is no pass. */
  judged: boolean;
  /** One line: pass, the violations, or why it was not judged, with the rule. */
  summary: string;
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
  let runJudged = false;
  if (sorted.length > 0) {
    const start = sorted[0]!.t;
    const span = sorted.at(-1)!.t - start;
    const highest = (list: LifeSample[]) => (list.length === 0 ? null : Math.max(...list.map((s) => s.v)));
    firstThirdMaxBytes = highest(sorted.filter((s) => s.t - start <= span / 3));
    lastThirdMaxBytes = highest(sorted.filter((s) => s.t - start >= (2 * span) / 3));
    // Over a short run the first third is little more than the first warm-up: nothing to compare.
    if (firstThirdMaxBytes !== null && lastThirdMaxBytes !== null && span >= rule.minLifeMs) {
      runJudged = true;
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
  const judgedAny = runJudged || longestLife !== null;
  const ruleText = `rule: peaks may rise ≤ ${rule.maxRise * 100} % or ≤ ${mib(rule.minRiseBytes)} MiB over a run of ≥ ${rule.minLifeMs / 60_000} min; a life of ≥ ${rule.minLifeMs / 60_000} min must not keep rising`;
  const spanMin = sorted.length < 2 ? 0 : (sorted.at(-1)!.t - sorted[0]!.t) / 60_000;
  const summary = !judgedAny
    ? `supervisor memory NOT JUDGED: the run lasted ${spanMin.toFixed(1)} min and no life ${rule.minLifeMs / 60_000} min (${ruleText})`
    : violations.length > 0
      ? `supervisor memory FAILED: ${violations.join('; ')} (${ruleText})`
      : `supervisor memory passed (${ruleText})`;
  return { firstThirdMaxBytes, lastThirdMaxBytes, longestLife, judged: judgedAny, summary, violations };
}
