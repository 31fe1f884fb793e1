export interface TrendSample {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

export interface LinearTrend {
  n: number;
  /** Least-squares slope in v units per hour. */
  slopePerHour: number;
  /** Fitted v at the earliest sample's time (the fit runs on t - t0, which also keeps it numerically sane). */
  intercept: number;
  /** Share of the variance the line explains, 0..1; 0 when v never changes (there is nothing to explain). */
  r2: number;
  /** Standard error of the slope; NaN below 3 samples, where the line fits any data exactly. */
  slopeStdErrPerHour: number;
}

const MS_PER_HOUR = 3_600_000;

function requireFiniteSamples(samples: readonly TrendSample[]): void {
  samples.forEach((s, i) => {
    if (!Number.isFinite(s.t) || !Number.isFinite(s.v)) {
      throw new RangeError(`linearTrend: sample ${i} must have finite t and v, got t=${s.t} v=${s.v}`);
    }
  });
}

/**
 * Ordinary least squares of v against time. Degenerate input (no samples, or every sample at the
 * same instant) has no slope: those fields are NaN rather than a made-up 0.
 */
export function linearTrend(samples: readonly TrendSample[]): LinearTrend {
  requireFiniteSamples(samples);
  const n = samples.length;
  if (n === 0) return { n, slopePerHour: NaN, intercept: NaN, r2: NaN, slopeStdErrPerHour: NaN };
  const t0 = samples.reduce((min, s) => Math.min(min, s.t), Infinity);
  const xs = samples.map((s) => (s.t - t0) / MS_PER_HOUR);
  const ys = samples.map((s) => s.v);
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - meanX;
    const dy = ys[i]! - meanY;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { n, slopePerHour: NaN, intercept: NaN, r2: NaN, slopeStdErrPerHour: NaN };
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    const residual = ys[i]! - (intercept + slope * xs[i]!);
    ssRes += residual * residual;
  }
  const r2 = syy === 0 ? 0 : Math.min(1, Math.max(0, 1 - ssRes / syy));
  const slopeStdErrPerHour = n > 2 ? Math.sqrt(ssRes / (n - 2) / sxx) : NaN;
  return { n, slopePerHour: slope, intercept, r2, slopeStdErrPerHour };
}

export interface LeakRule {
  minSamples: number;
  /** The window must cover at least this long; a few minutes of warm-up says nothing about a leak. */
  minSpanMs: number;
  /** Growth per hour (v units) that counts as a leak. */
  slopeThresholdPerHour: number;
}

export interface LeakVerdict {
  suspected: boolean;
  slopePerHour: number;
  reason: string;
}

/** Roughly the 95% two-sided t value once there are a dozen or more samples. */
const SIGNIFICANCE_T = 2;

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

function requireRule(rule: LeakRule): void {
  for (const key of ['minSamples', 'minSpanMs', 'slopeThresholdPerHour'] as const) {
    if (!Number.isFinite(rule[key]) || rule[key] < 0) {
      throw new RangeError(`detectLeak: ${key} must be a finite number >= 0, got ${rule[key]}`);
    }
  }
}

/**
 * A leak is a SUSTAINED rise, not any rise. All of these must hold:
 *  1. enough samples (at least minSamples, and 4 so each half below has two) over at least minSpanMs;
 *  2. the least-squares slope over the whole window is >= slopeThresholdPerHour;
 *  3. that slope is statistically real: slope - 2 * stderr > 0, which rejects noise that happens
 *     to tilt upwards;
 *  4. the window split at its time midpoint rises in BOTH halves, each half's slope being at least
 *     half the threshold. A single step (a cache filling, a big page opened once) rises in one
 *     half and is flat in the other, and growth that levels off fails the second half, so neither
 *     is reported; steady linear growth passes both.
 */
export function detectLeak(samples: readonly TrendSample[], rule: LeakRule): LeakVerdict {
  requireRule(rule);
  const overall = linearTrend(samples);
  const slopePerHour = overall.slopePerHour;
  const needed = Math.max(rule.minSamples, 4);
  if (samples.length < needed) {
    return { suspected: false, slopePerHour, reason: `only ${samples.length} samples, need ${needed}` };
  }
  // reduce, not Math.min(...spread): spreading a long history would overflow the call stack.
  const start = samples.reduce((min, s) => Math.min(min, s.t), Infinity);
  const spanMs = samples.reduce((max, s) => Math.max(max, s.t), -Infinity) - start;
  if (spanMs < rule.minSpanMs || spanMs === 0) {
    return { suspected: false, slopePerHour, reason: `window spans ${spanMs} ms, need ${rule.minSpanMs} ms` };
  }
  const threshold = rule.slopeThresholdPerHour;
  if (slopePerHour < threshold) {
    return { suspected: false, slopePerHour, reason: `slope ${fmt(slopePerHour)}/h below threshold ${fmt(threshold)}/h` };
  }
  const margin = SIGNIFICANCE_T * overall.slopeStdErrPerHour;
  if (!(slopePerHour - margin > 0)) {
    return {
      suspected: false,
      slopePerHour,
      reason: `slope ${fmt(slopePerHour)}/h is within noise (±${fmt(margin)}/h)`,
    };
  }
  const middle = start + spanMs / 2;
  const first = linearTrend(samples.filter((s) => s.t <= middle));
  const second = linearTrend(samples.filter((s) => s.t >= middle));
  if (!(first.slopePerHour >= threshold / 2 && second.slopePerHour >= threshold / 2)) {
    return {
      suspected: false,
      slopePerHour,
      reason:
        `rise not sustained: first half ${fmt(first.slopePerHour)}/h, second half ${fmt(second.slopePerHour)}/h, ` +
        `each needs ${fmt(threshold / 2)}/h`,
    };
  }
  return {
    suspected: true,
    slopePerHour,
    reason: `sustained rise of ${fmt(slopePerHour)}/h over ${fmt(spanMs / MS_PER_HOUR)} h (r2 ${fmt(overall.r2)})`,
  };
}
