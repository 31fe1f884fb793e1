import { describe, expect, it } from 'vitest';
import { claimQuota, compareLeases, fenceDeadline, idleTransactionTimeoutS, mustSelfFence, type NodeLoad } from '../../../src/cluster/placement.js';

const node = (id: string, load: number, capacity = 50): NodeLoad => ({ id, load, capacity });

describe('claimQuota: free instances go to the least-loaded node under capacity', () => {
  it('a lone node takes every free instance up to its capacity', () => {
    expect(claimQuota('a', [node('a', 0, 10)], 4)).toBe(4);
    expect(claimQuota('a', [node('a', 8, 10)], 4)).toBe(2);
    expect(claimQuota('a', [node('a', 10, 10)], 4)).toBe(0);
  });

  it('three empty nodes split twelve instances four each, whichever node computes it', () => {
    const nodes = [node('a', 0), node('b', 0), node('c', 0)];
    expect(['a', 'b', 'c'].map((me) => claimQuota(me, nodes, 12))).toEqual([4, 4, 4]);
  });

  it("a dead node's four instances go to the two survivors by load: the lighter takes more", () => {
    const nodes = [node('a', 4), node('b', 2)];
    expect(claimQuota('a', nodes, 4)).toBe(1);
    expect(claimQuota('b', nodes, 4)).toBe(3);
  });

  it('the shares of every node add up to what is free while there is room, and never pass a capacity', () => {
    for (let free = 0; free <= 30; free++) {
      const nodes = [node('a', 3, 10), node('b', 7, 9), node('c', 0, 5)];
      const shares = nodes.map((n) => claimQuota(n.id, nodes, free));
      const room = nodes.reduce((sum, n) => sum + n.capacity - n.load, 0);
      expect(shares.reduce((a, b) => a + b, 0)).toBe(Math.min(free, room));
      nodes.forEach((n, i) => expect(n.load + shares[i]!).toBeLessThanOrEqual(n.capacity));
    }
  });

  it('a node not among the live ones (draining, down) claims nothing', () => {
    expect(claimQuota('d', [node('a', 0)], 5)).toBe(0);
  });

  it('ties go to the smaller id, so two nodes never both take the one free instance', () => {
    const nodes = [node('b', 1), node('a', 1)];
    expect(claimQuota('a', nodes, 1)).toBe(1);
    expect(claimQuota('b', nodes, 1)).toBe(0);
  });
});

describe('self-fencing deadline', () => {
  it('falls one renewal interval before the lease can lapse for the others', () => {
    expect(fenceDeadline(1_000, 15_000, 3_000)).toBe(13_000);
  });

  it('is due at the deadline and not a millisecond before; never before the first renewal', () => {
    expect(mustSelfFence(12_999, 1_000, 15_000, 3_000)).toBe(false);
    expect(mustSelfFence(13_000, 1_000, 15_000, 3_000)).toBe(true);
    expect(mustSelfFence(1e9, null, 15_000, 3_000)).toBe(false);
  });
});

describe('idle transaction limit', () => {
  it('ends a paused node’s transaction within half the TTL, in whole seconds, never under one', () => {
    expect(idleTransactionTimeoutS(15_000)).toBe(7);
    expect(idleTransactionTimeoutS(10_000)).toBe(5);
    expect(idleTransactionTimeoutS(3_000)).toBe(1);
    for (const ttl of [3_000, 4_999, 15_000, 60_000]) expect(idleTransactionTimeoutS(ttl) * 1_000).toBeLessThanOrEqual(ttl / 2);
  });
});

describe('compareLeases: what a renewal read back against what the node believes', () => {
  it('names leases taken over (gone, or another epoch) and leases held unknowingly', () => {
    const held = new Map([
      ['kept', 3],
      ['gone', 1],
      ['reclaimed', 2],
    ]);
    const read = new Map([
      ['kept', 3],
      ['reclaimed', 4],
      ['stray', 7],
    ]);
    expect(compareLeases(held, read)).toEqual({ lost: ['gone', 'reclaimed'], unknown: [{ id: 'stray', epoch: 7 }] });
  });
});
