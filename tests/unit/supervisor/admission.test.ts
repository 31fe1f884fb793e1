import { describe, expect, it } from 'vitest';
import { decideAdmission, expectedCost, formatBytes, type AdmissionInput } from '../../../src/supervisor/admission.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** 2 GiB cap, 4 launches at once, critical at 95 %, nothing running, 200 MiB expected. */
function input(over: Partial<AdmissionInput> = {}): AdmissionInput {
  return { launching: 0, limit: 4, fleetBytes: 0, pendingBytes: 0, expectedBytes: 200 * MIB, capBytes: 2 * GIB, criticalPercent: 95, ...over };
}

describe('decideAdmission', () => {
  it.each<[string, Partial<AdmissionInput>]>([
    ['an empty fleet', {}],
    ['room for exactly one more (measured + expected = the critical level)', { fleetBytes: Math.floor(0.95 * 2 * GIB) - 200 * MIB }],
    ['room for exactly one more under the cap itself when the critical level is 100%', { fleetBytes: 2 * GIB - 200 * MIB, criticalPercent: 100 }],
    ['launches below the limit', { launching: 3, pendingBytes: 600 * MIB }],
    ['a launch limit of one, nothing launching', { limit: 1 }],
    ['a launch already measured in full (nothing pending)', { launching: 1, fleetBytes: 1 * GIB, pendingBytes: 0 }],
    ['a tiny expected cost just fitting under the critical level', { fleetBytes: Math.floor(0.94 * 2 * GIB), expectedBytes: 16 * MIB }],
  ])('admits with %s', (_name, over) => {
    expect(decideAdmission(input(over))).toEqual({ admit: true });
  });

  it('waits for memory when measured + expected exceeds the critical level of the cap, and says so in figures', () => {
    const d = decideAdmission(input({ fleetBytes: 1900 * MIB }));
    expect(d).toEqual({ admit: false, wait: 'memory', reason: 'fleet memory 1.9 GiB + 200 MiB expected > 95% of cap 2.0 GiB' });
    // At 100 % the bound is the cap itself.
    expect(decideAdmission(input({ fleetBytes: 1900 * MIB, criticalPercent: 100 }))).toEqual({
      admit: false,
      wait: 'memory',
      reason: 'fleet memory 1.9 GiB + 200 MiB expected > cap 2.0 GiB',
    });
  });

  it('counts what the launches in progress will still add', () => {
    // 1.5 GiB measured + 2 launches of 200 MiB not measurable yet + 200 MiB > 2 GiB.
    const d = decideAdmission(input({ fleetBytes: 1.5 * GIB, launching: 2, pendingBytes: 400 * MIB }));
    expect(d).toMatchObject({ admit: false, wait: 'memory' });
    expect(!d.admit && d.reason).toBe('fleet memory 1.5 GiB + 400 MiB launching + 200 MiB expected > 95% of cap 2.0 GiB');
    // Less pending: room.
    expect(decideAdmission(input({ fleetBytes: 1.5 * GIB, launching: 2, pendingBytes: 200 * MIB }))).toEqual({ admit: true });
  });

  it('one byte over the critical level waits', () => {
    expect(decideAdmission(input({ fleetBytes: Math.floor(0.95 * 2 * GIB) - 200 * MIB + 1 }))).toMatchObject({ admit: false, wait: 'memory' });
    expect(decideAdmission(input({ fleetBytes: 2 * GIB - 200 * MIB + 1, criticalPercent: 100 }))).toMatchObject({ admit: false, wait: 'memory' });
  });

  it('waits with the fleet at the critical level, whatever one more would cost', () => {
    const d = decideAdmission(input({ fleetBytes: 0.96 * 8 * GIB, capBytes: 8 * GIB }));
    expect(d).toEqual({ admit: false, wait: 'critical', reason: 'fleet memory 7.7 GiB is 96% of its cap 8.0 GiB (critical at 95%)' });
    // Exactly at the level counts as reached.
    expect(decideAdmission(input({ fleetBytes: 0.95 * 8 * GIB, capBytes: 8 * GIB }))).toMatchObject({ wait: 'critical' });
  });

  it('waits for a launch slot when `limit` launches are in progress', () => {
    expect(decideAdmission(input({ launching: 4 }))).toEqual({ admit: false, wait: 'launches', reason: '4 launch(es) in progress, at most 4 (LAUNCH_CONCURRENCY)' });
    expect(decideAdmission(input({ launching: 1, limit: 1 }))).toMatchObject({ admit: false, wait: 'launches' });
  });

  it('names memory before launches when both hold, and critical before both', () => {
    expect(decideAdmission(input({ launching: 4, fleetBytes: 1.95 * GIB }))).toMatchObject({ wait: 'critical' });
    expect(decideAdmission(input({ launching: 4, fleetBytes: 1.85 * GIB }))).toMatchObject({ wait: 'memory' });
  });

  it('an expected cost above the cap never admits, even into an empty fleet (the reason says why)', () => {
    expect(decideAdmission(input({ capBytes: 100 * MIB }))).toEqual({ admit: false, wait: 'memory', reason: 'fleet memory 0 MiB + 200 MiB expected > 95% of cap 100 MiB' });
  });

  it.each<[string, Partial<AdmissionInput>]>([
    ['a negative launch count', { launching: -1 }],
    ['a fractional launch count', { launching: 1.5 }],
    ['a zero limit', { limit: 0 }],
    ['NaN memory', { fleetBytes: Number.NaN }],
    ['negative pending bytes', { pendingBytes: -1 }],
    ['an infinite expected cost', { expectedBytes: Number.POSITIVE_INFINITY }],
    ['a zero cap', { capBytes: 0 }],
    ['a zero critical percent', { criticalPercent: 0 }],
  ])('refuses %s', (_name, over) => {
    expect(() => decideAdmission(input(over))).toThrow(RangeError);
  });

  it('is exhaustive over a grid: admitted exactly when below critical, staying within the critical level and below the limit', () => {
    const cap = 1000 * MIB;
    for (let launching = 0; launching <= 3; launching++) {
      for (let fleet = 0; fleet <= 1100; fleet += 50) {
        for (const expected of [16, 100, 300]) {
          const d = decideAdmission({ launching, limit: 2, fleetBytes: fleet * MIB, pendingBytes: launching * expected * MIB, expectedBytes: expected * MIB, capBytes: cap, criticalPercent: 90 });
          const critical = fleet >= 900;
          const over = fleet + launching * expected + expected > 900;
          const full = launching >= 2;
          expect(d.admit, `launching ${launching}, fleet ${fleet}, expected ${expected}`).toBe(!critical && !over && !full);
          if (!d.admit) expect(d.wait).toBe(critical ? 'critical' : over ? 'memory' : 'launches');
        }
      }
    }
  });
});

describe('expectedCost', () => {
  it('is the setting while no CONNECTED or QR_REQUIRED instance has been measured', () => {
    expect(expectedCost([], 200 * MIB)).toEqual({ bytes: 200 * MIB, from: 'setting', of: 0 });
    expect(expectedCost([{ status: 'INITIALIZING', bytes: 50 * MIB }, { status: 'LOADING', bytes: 400 * MIB }], 200 * MIB)).toMatchObject({ from: 'setting' });
    expect(expectedCost([{ status: 'CONNECTED', bytes: 0 }], 200 * MIB)).toMatchObject({ from: 'setting' });
  });

  it('is the median of the measured CONNECTED and QR_REQUIRED instances (odd and even counts)', () => {
    const running = [
      { status: 'CONNECTED', bytes: 300 * MIB },
      { status: 'QR_REQUIRED', bytes: 100 * MIB },
      { status: 'LOADING', bytes: 900 * MIB },
      { status: 'CONNECTED', bytes: 200 * MIB },
    ];
    expect(expectedCost(running, 1)).toEqual({ bytes: 200 * MIB, from: 'median', of: 3 });
    expect(expectedCost([...running, { status: 'QR_REQUIRED', bytes: 500 * MIB }], 1)).toEqual({ bytes: 250 * MIB, from: 'median', of: 4 });
  });
});

describe('formatBytes', () => {
  it('prints MiB below a GiB and GiB with one decimal above', () => {
    expect(formatBytes(0)).toBe('0 MiB');
    expect(formatBytes(200 * MIB)).toBe('200 MiB');
    expect(formatBytes(1023 * MIB)).toBe('1023 MiB');
    expect(formatBytes(2 * GIB)).toBe('2.0 GiB');
  });
});
