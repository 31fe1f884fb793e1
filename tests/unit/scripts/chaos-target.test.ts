import { describe, expect, it } from 'vitest';
import { ownerViews } from '../../../scripts/chaos/target.js';
import type { InstanceSummary } from '../../../scripts/support/api-client.js';

const view = (id: string, node: string | null, workerPid: number | null, status = 'CONNECTED'): InstanceSummary => ({
  id,
  enabled: true,
  connectionStatus: status,
  statusReason: null,
  health: 'healthy',
  reconnectAttempts: 0,
  waitingForHuman: null,
  worker: workerPid === null ? null : { pid: workerPid, browserPid: workerPid + 1, uptimeMs: 1 },
  node,
});

describe('each instance as its owner sees it (scripts/chaos/target.ts)', () => {
  it('takes each instance from the node that runs it, whichever node answers first', () => {
    const merged = ownerViews([
      { node: 'node-1', instances: [view('a', 'node-1', 10), view('b', 'node-2', null)] },
      { node: 'node-2', instances: [view('a', 'node-1', null), view('b', 'node-2', 20)] },
    ]);
    expect(merged.map((i) => [i.id, i.node, i.worker?.pid ?? null])).toEqual([
      ['a', 'node-1', 10],
      ['b', 'node-2', 20],
    ]);
  });

  it('falls back to the row of an instance whose owner did not answer or that nobody runs', () => {
    const merged = ownerViews([{ node: 'node-1', instances: [view('a', 'node-3', null, 'RECONNECTING'), view('b', null, null, 'DISCONNECTED')] }]);
    expect(merged.map((i) => [i.id, i.connectionStatus, i.worker])).toEqual([
      ['a', 'RECONNECTING', null],
      ['b', 'DISCONNECTED', null],
    ]);
  });

  it("prefers the owner's own word without a worker over another node's reading of the row", () => {
    const merged = ownerViews([
      { node: 'node-1', instances: [view('a', 'node-2', null, 'CONNECTED')] },
      { node: 'node-2', instances: [view('a', 'node-2', null, 'RECONNECTING')] },
    ]);
    expect(merged[0]!.connectionStatus).toBe('RECONNECTING');
  });
});
