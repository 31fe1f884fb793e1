import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../lib/seeded-random.js';
import { deckFor, FAULT_KINDS, faultSequence, NODE_FAULT_KINDS, NODES_DECK } from '../../../scripts/chaos/faults.js';
import { busiestNode } from '../../../scripts/chaos/node-faults.js';
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

describe('the decks', () => {
  it('keeps the deck of one supervisor as it was: 13 kinds, no node fault', () => {
    expect(deckFor(1)).toBe(FAULT_KINDS);
    expect(FAULT_KINDS).toEqual([
      'chromium_sigkill', 'worker_sigkill', 'worker_sigstop', 'page_freeze', 'tab_crash', 'conflict', 'unpaired',
      'memory_growth', 'mysql_stop', 'supervisor_sigkill', 'supervisor_sigterm', 'hostile_burst', 'webhook_outage',
    ]);
  });

  it('deals the instance faults and the four node faults with several nodes, without the kinds whose meaning is the whole product', () => {
    expect(deckFor(3)).toBe(NODES_DECK);
    expect(NODE_FAULT_KINDS).toEqual(['node_sigkill', 'node_sigstop', 'node_mysql_cut', 'node_sigterm']);
    expect(NODES_DECK).toEqual([
      'chromium_sigkill', 'worker_sigkill', 'worker_sigstop', 'page_freeze', 'tab_crash', 'conflict', 'unpaired',
      'memory_growth', 'hostile_burst', 'webhook_outage', ...NODE_FAULT_KINDS,
    ]);
    const sequence = faultSequence(seededRandom(5), NODES_DECK, NODES_DECK.length * 2);
    expect(new Set(sequence.slice(0, NODES_DECK.length))).toEqual(new Set(NODES_DECK));
    expect(new Set(sequence.slice(NODES_DECK.length))).toEqual(new Set(NODES_DECK));
  });

  it('aims a node fault at the node running the most instances, the first of a tie', () => {
    const held: Record<string, number> = { 'node-1': 2, 'node-2': 4, 'node-3': 4 };
    expect(busiestNode(['node-1', 'node-2', 'node-3'], (n) => held[n]!)).toBe('node-2');
    expect(busiestNode(['node-1'], () => 0)).toBe('node-1');
    expect(busiestNode([], () => 0)).toBeNull();
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
