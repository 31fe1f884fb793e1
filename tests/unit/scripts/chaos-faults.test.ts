import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../lib/seeded-random.js';
import { FAULT_KINDS, faultSequence } from '../../../scripts/chaos/faults.js';
import { percentile } from '../../../scripts/chaos/report.js';

describe('the chaos fault sequence', () => {
  it('replays exactly from the same seed and differs for another', () => {
    expect(faultSequence(seededRandom(1), FAULT_KINDS, 100)).toEqual(faultSequence(seededRandom(1), FAULT_KINDS, 100));
    expect(faultSequence(seededRandom(1), FAULT_KINDS, 100)).not.toEqual(faultSequence(seededRandom(2), FAULT_KINDS, 100));
  });

  it('holds every kind within each round of as many faults as there are kinds', () => {
    const sequence = faultSequence(seededRandom(7), FAULT_KINDS, FAULT_KINDS.length * 3 + 2);
    expect(sequence).toHaveLength(FAULT_KINDS.length * 3 + 2);
    for (let round = 0; round < 3; round++) {
      expect(new Set(sequence.slice(round * FAULT_KINDS.length, (round + 1) * FAULT_KINDS.length))).toEqual(new Set(FAULT_KINDS));
    }
  });

  it('draws only the kinds it is given', () => {
    const kinds = [FAULT_KINDS[0]!, FAULT_KINDS[1]!];
    expect(new Set(faultSequence(seededRandom(3), kinds, 9))).toEqual(new Set(kinds));
    expect(faultSequence(seededRandom(3), kinds, 0)).toEqual([]);
  });
});

describe('the chaos report percentile', () => {
  it('is the nearest-rank value, and null without values', () => {
    const values = [5, 1, 4, 2, 3];
    expect(percentile(values, 50)).toBe(3);
    expect(percentile(values, 95)).toBe(5);
    expect(percentile(values, 100)).toBe(5);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([], 50)).toBeNull();
  });
});
