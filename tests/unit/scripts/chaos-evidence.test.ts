import { describe, expect, it } from 'vitest';
import { killWindows, missingEvidence, type Evidence } from '../../../scripts/chaos/evidence.js';
import type { FaultRecord } from '../../../scripts/chaos/report.js';
import type { FaultKind } from '../../../scripts/chaos/faults.js';

const record = (kind: FaultKind, at: number, connectedMs: number | null = null): FaultRecord => ({
  index: 1,
  kind,
  target: null,
  at: new Date(at).toISOString(),
  detectionMs: null,
  connectedMs,
  settled: true,
  violations: [],
  notes: [],
});
const full: Evidence = {
  refusedDeliveries: 1,
  announcedChecked: 1,
  notificationsCompared: 1,
  processScans: 1,
  clusterSamples: 1,
  clusterBrowsersSeen: 1,
  instancesMoved: 1,
  thawsChecked: 1,
  nodeDownNotified: 1,
  movedNotified: 1,
};

describe('the evidence behind each invariant (scripts/chaos/evidence.ts)', () => {
  it('asks nothing of the nodes of a run of one supervisor', () => {
    const none = { ...full, clusterSamples: 0, clusterBrowsersSeen: 0, instancesMoved: 0, thawsChecked: 0, nodeDownNotified: 0, movedNotified: 0 };
    expect(missingEvidence([record('supervisor_sigkill', 0)], none, false)).toEqual([]);
  });

  it('fails a run of several nodes whose sampler, moves, notifications or thaw checks saw nothing', () => {
    const records = [record('node_sigstop', 0), record('node_sigterm', 1)];
    expect(missingEvidence(records, full, true)).toEqual([]);
    expect(missingEvidence(records, { ...full, clusterBrowsersSeen: 0 }, true)).toEqual([expect.stringMatching(/never two browsers/)]);
    expect(missingEvidence(records, { ...full, instancesMoved: 0 }, true)).toEqual(['node faults ran but moved no instance']);
    expect(missingEvidence(records, { ...full, movedNotified: 0 }, true)).toEqual(['node faults ran but no instance.moved notification arrived']);
    expect(missingEvidence(records, { ...full, nodeDownNotified: 0 }, true)).toEqual([expect.stringMatching(/no node.down/)]);
    expect(missingEvidence(records, { ...full, thawsChecked: 0 }, true)).toEqual(['no thaw of a stopped node was checked']);
    // A graceful stop alone announces no node down.
    expect(missingEvidence([record('node_sigterm', 0)], { ...full, nodeDownNotified: 0 }, true)).toEqual([]);
  });

  it('gives a kill an instant, a stop or a cut its span until the fleet was whole, and nothing else a window', () => {
    expect(killWindows([record('supervisor_sigkill', 1_000), record('node_sigkill', 2_000, 9_000), record('node_sigstop', 3_000, 30_000), record('node_mysql_cut', 4_000, 20_000), record('node_sigterm', 5_000, 8_000), record('tab_crash', 6_000)])).toEqual([
      1_000,
      2_000,
      [3_000, 33_000],
      [4_000, 24_000],
    ]);
  });
});

describe('the evidence in the report', () => {
  it("keeps one supervisor's report as it was and adds the nodes' evidence with several nodes", async () => {
    const { reportedEvidence } = await import('../../../scripts/chaos/evidence.js');
    const evidence = { ...full, outageSamples: 3 };
    expect(Object.keys(reportedEvidence(evidence, false)).sort()).toEqual(['announcedChecked', 'notificationsCompared', 'outageSamples', 'processScans', 'refusedDeliveries']);
    expect(reportedEvidence(evidence, true)).toEqual(evidence);
  });
});
