import type { ApiClient, InstanceSummary } from '../support/api-client.js';
import type { ClusterRun } from '../support/cluster-run.js';
import type { DemoRun } from '../support/demo-run.js';
import { fleetProcesses, type FleetProcesses } from './processes.js';

/**
 * What the faults and checks of a chaos run need from the product, whether it runs as one
 * supervisor or as several nodes: an API to ask, each instance as the node running it sees it
 * (status, health, its worker and browser pids), and the processes of the run on this machine.
 */
export interface ChaosTarget {
  /** A node's API that answers now; a command for an instance another node runs is forwarded there. */
  api(): ApiClient;
  /** Each instance as its owner sees it (its live worker, health); an instance nobody runs shows its row. */
  instances(): Promise<InstanceSummary[]>;
  /** The status as the API answers it, with its word on the database (the timeline samples this). */
  fleet(): Promise<{ database: 'up' | 'down'; instances: InstanceSummary[] }>;
  /** Worker and Chromium processes of the run, read from /proc. */
  processes(): FleetProcesses;
  /** Whether any supervisor is up: when none is, nothing of the run may run at all. */
  up(): boolean;
  /** The spare workers (WORKER_SPARE) the supervisors name: worker processes that are no instance's. */
  spares(): Promise<number[]>;
}

/** One supervisor (DemoRun): its own API, its own view. */
export function singleTarget(run: DemoRun): ChaosTarget {
  return {
    api: () => run.api,
    instances: () => run.api.instances(),
    fleet: () => run.api.fleet(),
    processes: () => fleetProcesses(run.marker, run.sessionRoot),
    up: () => run.supervisor.alive,
    spares: async () => [await run.api.sparePid()].filter((pid): pid is number => pid !== null),
  };
}

/** One node's answer to GET /api/instances. */
export interface NodeAnswer {
  node: string;
  instances: InstanceSummary[];
}

/**
 * Each instance as the node that runs it sees it: a node lists its own instances with their live
 * view (worker, health) and the others' from their rows (no worker), so each instance's entry is
 * taken from the node that names itself and has a worker; failing that, from the node its row
 * names; failing that, any. Two nodes both claiming a live worker for one instance keep the
 * first: the sampler judges double browsers, not this view.
 */
export function ownerViews(answers: readonly NodeAnswer[]): InstanceSummary[] {
  const byId = new Map<string, { view: InstanceSummary; rank: number }>();
  for (const { node, instances } of answers) {
    for (const view of instances) {
      const rank = view.node === node && view.worker ? 2 : view.node === node ? 1 : 0;
      const held = byId.get(view.id);
      if (!held || rank > held.rank) byId.set(view.id, { view, rank });
    }
  }
  return [...byId.values()].map((e) => e.view).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The nodes of a ClusterRun. A node the run has SIGSTOPped is alive but answers nothing: it is
 * left out of every question (`frozen`) until it is thawed, as a client's load balancer would
 * leave out a node that times out.
 */
export class ClusterTarget implements ChaosTarget {
  readonly frozen = new Set<string>();
  private turn = 0;

  constructor(readonly run: ClusterRun) {}

  /** The nodes that answer now. */
  reachable(): ClusterRun['nodes'] {
    return this.run.nodes.filter((n) => n.process.alive && !this.frozen.has(n.id));
  }

  /** The reachable nodes in turn, so every node's forwarding is exercised. */
  api(): ApiClient {
    const nodes = this.reachable();
    if (nodes.length === 0) throw new Error('no node answers');
    return nodes[this.turn++ % nodes.length]!.api;
  }

  async instances(): Promise<InstanceSummary[]> {
    return (await this.fleet()).instances;
  }

  async fleet(): Promise<{ database: 'up' | 'down'; instances: InstanceSummary[] }> {
    const answers = await Promise.all(
      this.reachable().map(async (n) => {
        const fleet = await n.api.fleet().catch(() => null);
        return fleet ? { node: n.id, ...fleet } : null;
      }),
    );
    const got = answers.filter((a) => a !== null);
    if (got.length === 0) throw new Error('no node answered GET /api/instances');
    return { database: got.every((a) => a.database === 'up') ? 'up' : 'down', instances: ownerViews(got) };
  }

  processes(): FleetProcesses {
    return fleetProcesses(this.run.marker, this.run.dir);
  }

  up(): boolean {
    return this.reachable().length > 0;
  }

  async spares(): Promise<number[]> {
    const pids = await Promise.all(this.reachable().map((n) => n.api.sparePid().catch(() => null)));
    return pids.filter((pid): pid is number => pid !== null);
  }
}
