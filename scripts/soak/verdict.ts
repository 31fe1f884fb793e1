import { detectLeak, linearTrend, type TrendSample } from '../../lib/trend.js';

/**
 * The soak's verdict on one memory series (PSS in bytes, sampled over time). Pure: no clock, no
 * /proc; the soak script feeds it the samples taken after the warm-up.
 */

const MIB = 1024 ** 2;

export interface SoakRule {
  /**
   * Growth slower than this (MiB per hour) is never flagged, however clean the line. 10 MiB/h is
   * 240 MiB a day: a leak that matters on a server that runs for weeks. Anything slower is, over
   * a soak of minutes, indistinguishable from things that are not leaks: V8 growing its heap to
   * its working size, shared pages re-divided as other processes on the machine come and go.
   */
  floorMiBPerHour: number;
  /**
   * Fewer samples than this are not judged. 4 is the least the trend test can use (it fits each
   * half of the window on its own, two samples each); below that the slope's spread is either
   * undefined (2 samples) or rests on one degree of freedom (3), where "2 × spread" is no test.
   */
  minSamples: number;
}

export const DEFAULT_SOAK_RULE: SoakRule = { floorMiBPerHour: 10, minSamples: 4 };

export interface SoakVerdict {
  n: number;
  /** The earliest and latest sample's value; null without samples. */
  startBytes: number | null;
  endBytes: number | null;
  /** Least-squares slope; NaN below 2 samples (or all at one instant). */
  slopeMiBPerHour: number;
  /** Standard error of that slope; NaN below 3 samples. */
  spreadMiBPerHour: number;
  /** False when there were too few samples to say anything; `growing` is then false too. */
  judged: boolean;
  /**
   * An upward trend beyond noise, as lib/trend.ts's detectLeak (the rule the supervisor's own
   * memory check uses) defines it: slope at or above the floor, slope − 2 × spread > 0 (the
   * rise is not noise tilting upwards), and both halves of the window rising at half the floor
   * or more. The last part means one step followed by a plateau (a cache filled once) is NOT
   * growth: the soak asks whether memory keeps rising, and a step that levels off does not.
   */
  growing: boolean;
  /** Why, in one line (from detectLeak, or why not judged). */
  reason: string;
}

export function soakVerdict(samples: readonly TrendSample[], rule: SoakRule = DEFAULT_SOAK_RULE): SoakVerdict {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const inMiB = sorted.map((s) => ({ t: s.t, v: s.v / MIB }));
  const trend = linearTrend(inMiB);
  const base = {
    n: sorted.length,
    startBytes: sorted[0]?.v ?? null,
    endBytes: sorted.at(-1)?.v ?? null,
    slopeMiBPerHour: trend.slopePerHour,
    spreadMiBPerHour: trend.slopeStdErrPerHour,
  };
  const needed = Math.max(rule.minSamples, 4);
  if (sorted.length < needed) {
    return { ...base, judged: false, growing: false, reason: `${sorted.length} samples, ${needed} needed` };
  }
  const leak = detectLeak(inMiB, { minSamples: needed, minSpanMs: 0, slopeThresholdPerHour: rule.floorMiBPerHour });
  // detectLeak also refuses a window of zero span (all samples at one instant): nothing to judge either.
  const judged = Number.isFinite(trend.slopePerHour);
  return { ...base, judged, growing: judged && leak.suspected, reason: leak.reason.replaceAll('/h', ' MiB/h') };
}

export type VerdictLabel = 'flat' | 'GROWING' | 'not judged';

export function verdictLabel(v: SoakVerdict): VerdictLabel {
  if (!v.judged) return 'not judged';
  return v.growing ? 'GROWING' : 'flat';
}

/** How many times the pid changed along a series (a new worker = a restart); unknown pids (null) are skipped. */
export function pidChanges(pids: readonly (number | null)[]): number {
  let changes = 0;
  let last: number | null = null;
  for (const pid of pids) {
    if (pid === null) continue;
    if (last !== null && pid !== last) changes++;
    last = pid;
  }
  return changes;
}

/**
 * A series cut where its pid changes: one life per worker. A leak that the memory loop keeps
 * resetting by restarts is a saw-tooth: judged as one line it looks flat, judged per life it rises.
 */
export function lives<S extends { pid: number }>(samples: readonly S[]): S[][] {
  const out: S[][] = [];
  for (const s of samples) {
    const current = out.at(-1);
    if (current && current[0]!.pid === s.pid) current.push(s);
    else out.push([s]);
  }
  return out;
}

/** One instance's soak, as the run observed it after all were CONNECTED. */
export interface InstanceOutcome {
  name: string;
  /** The verdict of each worker life, over its samples after the warm-up. */
  lives: readonly SoakVerdict[];
  restarts: number;
  notConnected: number;
  missing: number;
}

export interface SoakOutcomeInput {
  supervisor: SoakVerdict;
  instances: readonly InstanceOutcome[];
  apiFailures: number;
  interrupted: boolean;
}

/**
 * Everything that makes the soak fail, one line each; an empty list is a pass. At steady state
 * nothing should happen: a restart, a sample not CONNECTED, an API call that failed or a tick with
 * nothing to measure is a failure in its own right, and a series too short to judge is not a
 * pass — a soak that saw nothing proved nothing.
 */
export function soakFailures(input: SoakOutcomeInput): string[] {
  const failures: string[] = [];
  if (input.interrupted) failures.push('interrupted before its planned end');
  if (!input.supervisor.judged) failures.push(`supervisor not judged (${input.supervisor.reason})`);
  else if (input.supervisor.growing) failures.push(`supervisor PSS GROWING (${input.supervisor.reason})`);
  for (const i of input.instances) {
    const judged = i.lives.filter((l) => l.judged);
    if (judged.length === 0) failures.push(`${i.name}: not judged (${i.lives.map((l) => l.reason).join('; ') || 'no samples'})`);
    const growing = judged.filter((l) => l.growing);
    if (growing.length > 0) failures.push(`${i.name}: PSS GROWING in ${growing.length} of ${i.lives.length} worker lives (${growing[0]!.reason})`);
    if (i.restarts > 0) failures.push(`${i.name}: worker restarted ${i.restarts}× at steady state`);
    if (i.notConnected > 0) failures.push(`${i.name}: ${i.notConnected} samples not CONNECTED`);
    if (i.missing > 0) failures.push(`${i.name}: ${i.missing} ticks with no worker to measure`);
  }
  if (input.apiFailures > 0) failures.push(`${input.apiFailures} API calls failed`);
  return failures;
}
