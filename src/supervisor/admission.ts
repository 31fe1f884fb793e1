/**
 * Admission: whether one more worker may be launched now. Pure: the start gate measures, this
 * decides. Every start (create, enable, restart, reconnect, boot, recovery, QR request) asks it.
 */

export const BYTES_PER_MIB = 1024 * 1024;

export interface AdmissionInput {
  /** Launches in progress (admitted, browser not measurable yet). */
  launching: number;
  /** LAUNCH_CONCURRENCY: launches in progress at once. */
  limit: number;
  /** PSS of every running instance (worker + Chromium tree), measured now. */
  fleetBytes: number;
  /** What the launches in progress will still add: their expected cost less what is already measured of them. */
  pendingBytes: number;
  /** Expected cost of one more instance: the median of the running ones, else INSTANCE_EXPECTED_MB. */
  expectedBytes: number;
  /** FLEET_MEMORY_CAP_MB. */
  capBytes: number;
  /**
   * MEMORY_CRITICAL_PERCENT: no start is admitted with the fleet at or above it, and none that
   * would take the fleet above it (there the memory loop restarts the largest instance).
   */
  criticalPercent: number;
}

export type AdmissionWait = 'critical' | 'memory' | 'launches';

export type AdmissionDecision = { admit: true } | { admit: false; wait: AdmissionWait; reason: string };

/** `1.9 GiB`, `200 MiB`, `0 MiB`: one decimal from a GiB on. */
export function formatBytes(bytes: number): string {
  const mib = bytes / BYTES_PER_MIB;
  if (Math.abs(mib) >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  return `${Math.round(mib)} MiB`;
}

function requireInput(input: AdmissionInput): void {
  const counts: [string, number][] = [
    ['launching', input.launching],
    ['limit', input.limit],
  ];
  for (const [name, value] of counts) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`decideAdmission: ${name} must be an integer >= 0, got ${value}`);
  }
  if (input.limit < 1) throw new RangeError(`decideAdmission: limit must be >= 1, got ${input.limit}`);
  const sizes: [string, number][] = [
    ['fleetBytes', input.fleetBytes],
    ['pendingBytes', input.pendingBytes],
    ['expectedBytes', input.expectedBytes],
  ];
  for (const [name, value] of sizes) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`decideAdmission: ${name} must be a finite number >= 0, got ${value}`);
  }
  if (!Number.isFinite(input.capBytes) || input.capBytes <= 0) throw new RangeError(`decideAdmission: capBytes must be > 0, got ${input.capBytes}`);
  if (!Number.isFinite(input.criticalPercent) || input.criticalPercent <= 0) {
    throw new RangeError(`decideAdmission: criticalPercent must be > 0, got ${input.criticalPercent}`);
  }
}

/**
 * Whether to launch one more worker now; the first rule that holds decides:
 *  1. the fleet's measured memory is at or above criticalPercent of the cap  → wait `critical`
 *  2. measured + what launches in progress will still add + one more
 *     instance's expected cost exceeds criticalPercent of the cap          → wait `memory`
 *  3. `limit` launches are in progress                                     → wait `launches`
 *  4. otherwise                                                            → admit
 * The room is counted up to the critical level, not the cap itself: a fleet filled to its cap
 * would sit at the critical level, where the memory loop restarts the largest instance (whose
 * start then waits here while another takes its room): churn, not admission. So the fleet's
 * measured memory stays below the cap by the critical margin, give or take what an instance
 * costs beyond its expected cost.
 * Memory comes before launches: a start refused for memory is refused whatever the launches do,
 * and its reason is the one the operator must act on (raise the cap, stop something).
 */
export function decideAdmission(input: AdmissionInput): AdmissionDecision {
  requireInput(input);
  const { fleetBytes, pendingBytes, expectedBytes, capBytes, criticalPercent, launching, limit } = input;
  const usedPercent = (fleetBytes / capBytes) * 100;
  if (usedPercent >= criticalPercent) {
    return {
      admit: false,
      wait: 'critical',
      reason: `fleet memory ${formatBytes(fleetBytes)} is ${Math.round(usedPercent)}% of its cap ${formatBytes(capBytes)} (critical at ${criticalPercent}%)`,
    };
  }
  if (fleetBytes + pendingBytes + expectedBytes > (capBytes * criticalPercent) / 100) {
    const pending = pendingBytes > 0 ? ` + ${formatBytes(pendingBytes)} launching` : '';
    const bound = criticalPercent >= 100 ? `cap ${formatBytes(capBytes)}` : `${criticalPercent}% of cap ${formatBytes(capBytes)}`;
    return {
      admit: false,
      wait: 'memory',
      reason: `fleet memory ${formatBytes(fleetBytes)}${pending} + ${formatBytes(expectedBytes)} expected > ${bound}`,
    };
  }
  if (launching >= limit) {
    return { admit: false, wait: 'launches', reason: `${launching} launch(es) in progress, at most ${limit} (LAUNCH_CONCURRENCY)` };
  }
  return { admit: true };
}

/** Statuses whose measured memory is a fair price of one more instance: a loaded page, QR or linked. */
export const PRICED_STATUSES: readonly string[] = ['CONNECTED', 'QR_REQUIRED'];

/**
 * The expected cost of one more instance: the median measured PSS of the running instances in
 * CONNECTED or QR_REQUIRED (a page that has loaded), or `fallbackBytes` (INSTANCE_EXPECTED_MB)
 * when there are none. Pure.
 */
export function expectedCost(running: ReadonlyArray<{ status: string; bytes: number }>, fallbackBytes: number): { bytes: number; from: 'median' | 'setting'; of: number } {
  const priced = running
    .filter((r) => PRICED_STATUSES.includes(r.status) && Number.isFinite(r.bytes) && r.bytes > 0)
    .map((r) => r.bytes)
    .sort((a, b) => a - b);
  if (priced.length === 0) return { bytes: fallbackBytes, from: 'setting', of: 0 };
  const mid = Math.floor(priced.length / 2);
  const median = priced.length % 2 === 1 ? priced[mid]! : (priced[mid - 1]! + priced[mid]!) / 2;
  return { bytes: median, from: 'median', of: priced.length };
}
