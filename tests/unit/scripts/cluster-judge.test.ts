import { describe, expect, it } from 'vitest';
import { ClusterJudge, type ClusterSample } from '../../../scripts/cluster/sampler.js';

const rule = { leaseTtlMs: 6_000, leaseRenewMs: 2_000 };
const row = (id: string, owner: string | null, enabled = true) => ({ id, enabled, status: 'CONNECTED', owner, epoch: 1 });
const sample = (at: number, rows: ClusterSample['rows'], browsers: ClusterSample['browsers'] = []): ClusterSample => ({ at, rows, browsers });

describe('the cluster judge (scripts/cluster/sampler.ts)', () => {
  it('passes one browser per instance on whichever node, and counts what it saw', () => {
    const judge = new ClusterJudge(rule);
    judge.judge(sample(0, [row('a', 'node-1'), row('b', 'node-2')], [{ instanceId: 'a', node: 'node-1', pid: 10, parent: 1 }, { instanceId: 'b', node: 'node-2', pid: 11, parent: 2 }]));
    expect(judge.violations).toEqual([]);
    expect(judge.evidence).toMatchObject({ samples: 1, rowsSeen: 2, browsersSeen: 2 });
  });

  it('flags two live browsers for one instance, on two nodes or on one, once per pair', () => {
    const judge = new ClusterJudge(rule);
    const two = [{ instanceId: 'a', node: 'node-1', pid: 10, parent: 1 }, { instanceId: 'a', node: 'node-2', pid: 20, parent: 3 }];
    judge.judge(sample(0, [row('a', 'node-2')], two));
    judge.judge(sample(200, [row('a', 'node-2')], two));
    expect(judge.violations).toHaveLength(1);
    expect(judge.violations[0]).toMatch(/a: 2 live browsers \(node-1 pid 10 of worker 1, node-2 pid 20 of worker 3\)/);
  });

  it('flags an enabled instance owned by nobody past TTL + one claim interval, not a moment before, and never a disabled one', () => {
    const judge = new ClusterJudge(rule);
    for (let at = 0; at <= 8_000; at += 200) judge.judge(sample(at, [row('a', null), row('off', null, false)]));
    expect(judge.violations).toEqual([]);
    judge.judge(sample(8_200, [row('a', null), row('off', null, false)]));
    expect(judge.violations).toEqual([expect.stringMatching(/^a: enabled and owned by no node for over 8000 ms/)]);
    expect(judge.evidence.maxUnownedMs).toBe(8_200);
  });

  it('restarts the unowned clock once the instance is owned again', () => {
    const judge = new ClusterJudge(rule);
    judge.judge(sample(0, [row('a', null)]));
    judge.judge(sample(7_000, [row('a', 'node-3')]));
    judge.judge(sample(7_200, [row('a', null)]));
    judge.judge(sample(15_000, [row('a', null)]));
    expect(judge.violations).toEqual([]);
  });
});
