import type { Pool } from '../../src/db/pool.js';
import { cutDatabase, freezeNode, heldBy, killNode, stopNode, type FailoverSettings, type OnHit, type ScenarioResult } from '../cluster/failover.js';
import type { ClusterSampler } from '../cluster/sampler.js';
import type { ClusterRun } from '../support/cluster-run.js';
import type { ChaosContext, FaultKind, Injector } from './faults.js';
import type { ClusterTarget } from './target.js';

/**
 * The node faults of a chaos run with several nodes: the failover bench's scenarios
 * (scripts/cluster/failover.ts, each with its own checks: every instance of the node CONNECTED on
 * another without a QR within the bound; after a SIGSTOP's thaw no write for the instances it lost
 * and none of its browsers left; through a cut the other nodes' instances undisturbed; a SIGTERM
 * exits 0 and leaves no lease to lapse), aimed at the node running the most instances.
 */
export interface NodeFaultContext {
  run: ClusterRun;
  target: ClusterTarget;
  sampler: ClusterSampler;
  pool: Pool;
  settings: FailoverSettings;
  /** Called the moment the fault hits (the message stream, quiet since beforeHit, goes on). */
  hit: OnHit;
}

type Scenario = typeof killNode;

/** The live node running the most instances now (the first in order on a tie, so a seed replays). */
export function busiestNode(nodes: readonly string[], held: (node: string) => number): string | null {
  let best: string | null = null;
  for (const n of nodes) if (best === null || held(n) > held(best)) best = n;
  return best;
}

const nodeFault =
  (scenario: Scenario, restart: boolean): Injector =>
  async (ctx: ChaosContext) => {
    const n = ctx.nodes;
    if (!n) throw new Error('a node fault needs a run of several nodes (--nodes N)');
    const sample = (await n.sampler.fresh()) ?? undefined;
    const node = busiestNode(n.target.reachable().map((x) => x.id), (id) => heldBy(sample, id).length);
    if (node === null) throw new Error('no live node to take away');
    const at = Date.now();
    let result: ScenarioResult;
    // A stopped node answers nothing: it is left out of every question until it is thawed.
    if (scenario === freezeNode) n.target.frozen.add(node);
    try {
      result = await scenario(n.run, n.sampler, n.pool, node, n.settings, n.hit);
    } finally {
      n.target.frozen.delete(node);
    }
    const notes = [`${node}: ${result.moved.length} moved (${result.moved.map((m) => `${m.id}→${m.to ?? '?'} ${m.ms === null ? '–' : `${(m.ms / 1000).toFixed(1)} s`}`).join(', ')})`, ...result.notes];
    // Back empty, as the failover bench does, so that every fault has all the nodes to choose from.
    if (restart) {
      await n.run.node(node).process.start();
      notes.push(`${node} restarted`);
    }
    return { at, settle: 'all_connected', violations: result.problems, notes, node: { id: node, moved: result.moved.length } };
  };

export const NODE_INJECTORS: Record<Extract<FaultKind, `node_${string}`>, { needsTarget: boolean; inject: Injector }> = {
  node_sigkill: { needsTarget: false, inject: nodeFault(killNode, true) },
  node_sigstop: { needsTarget: false, inject: nodeFault(freezeNode, false) },
  node_mysql_cut: { needsTarget: false, inject: nodeFault(cutDatabase, false) },
  node_sigterm: { needsTarget: false, inject: nodeFault(stopNode, true) },
};
