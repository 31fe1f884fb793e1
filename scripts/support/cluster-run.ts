import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../lib/timeout.js';
import { freePort } from '../../tests/support/net.js';
import { killProcessesOfRun, markChildrenOfThisRun } from '../bench/support/cleanup.js';
import { ApiClient, type InstanceSummary } from './api-client.js';
import { PrivateMysql } from './private-mysql.js';
import { demoModeEnv, SupervisorProcess } from './supervisor-process.js';
import { TcpProxy } from './tcp-proxy.js';

export interface ClusterRunOptions {
  nodes: number;
  /** Folder of the run: MariaDB's data, each node's sessions and log. Kept unless `removeDir`. */
  dir: string;
  chromePath: string;
  /** Settings on top of the cluster's (lease timing, loop intervals…). */
  settings?: Record<string, string>;
  /** Delete `dir` on close (tests); `npm run cluster` keeps it for the next run. */
  removeDir?: boolean;
  /** The API key of every node (default: a random one). */
  apiKey?: string;
  /** First node's port; the others follow (default: free ports). */
  basePort?: number;
  /** The supervisor entry to run instead of the build's (see scripts/chaos/defects.ts). */
  entry?: string;
}

export interface ClusterNodeProcess {
  id: string;
  url: string;
  api: ApiClient;
  process: SupervisorProcess;
  /** The node's own way to MySQL: cut it and only this node loses the database. */
  proxy: TcpProxy;
  logFile: string;
}

/** A node as GET /api/nodes shows it. */
export interface NodeSummary {
  id: string;
  state: string;
  alive: boolean;
  load: number;
  capacity: number;
}

/**
 * N supervisors as separate processes on this machine, started as a user starts one (built entry,
 * demo mode), with CLUSTER=on, their own NODE_ID, port, session folder and log, one API key, and
 * one MariaDB of the run's own reached by each node through its own TCP relay. Every process carries
 * the run's marker: close() leaves nothing behind.
 */
export class ClusterRun {
  readonly nodes: ClusterNodeProcess[] = [];
  private constructor(
    readonly mysql: PrivateMysql,
    readonly mysqlUrl: string,
    readonly apiKey: string,
    readonly marker: string,
    private readonly options: ClusterRunOptions,
  ) {}

  static async start(options: ClusterRunOptions, log: (line: string) => void = () => undefined): Promise<ClusterRun> {
    mkdirSync(options.dir, { recursive: true });
    // Workers of a root supervisor run as WORKER_USER: they must pass through to their sessions.
    chmodSync(options.dir, 0o711);
    const marker = markChildrenOfThisRun();
    const mysql = new PrivateMysql(join(options.dir, 'mysql'), 'wa_fleet_cluster');
    let run: ClusterRun | null = null;
    try {
      log('starting MariaDB');
      const mysqlUrl = await mysql.start();
      run = new ClusterRun(mysql, mysqlUrl, options.apiKey ?? randomBytes(24).toString('hex'), marker, options);
      for (let i = 1; i <= options.nodes; i++) await run.addNode(i, options.basePort ? options.basePort + i - 1 : await freePort());
      // The first migrates the database alone; the others start together once it has.
      log(`starting node-1 on ${run.nodes[0]!.url}`);
      await run.nodes[0]!.process.start();
      log(`starting ${options.nodes - 1} more node(s)`);
      await Promise.all(run.nodes.slice(1).map((n) => n.process.start()));
      return run;
    } catch (err) {
      if (run) await run.close();
      else await mysql.stop().catch(() => undefined);
      throw err;
    }
  }

  private async addNode(index: number, port: number): Promise<void> {
    const id = `node-${index}`;
    const dir = join(this.options.dir, id);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o711);
    const target = new URL(this.mysqlUrl);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port) });
    const proxied = new URL(this.mysqlUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await proxy.start());
    const url = `http://127.0.0.1:${port}`;
    const logFile = join(dir, 'supervisor.log');
    const process_ = new SupervisorProcess({
      cwd: dir,
      logFile,
      baseUrl: url,
      entry: this.options.entry,
      env: {
        ...demoModeEnv({ port, apiKey: this.apiKey, mysqlUrl: proxied.toString(), dir, chromePath: this.options.chromePath }),
        CLUSTER: 'on',
        NODE_ID: id,
        NODE_URL: url,
        SESSION_STORE: 'mysql',
        ...this.options.settings,
      },
    });
    this.nodes.push({ id, url, api: new ApiClient(url, this.apiKey), process: process_, proxy, logFile });
  }

  /** The run's folder: every node's sessions are under it. */
  get dir(): string {
    return this.options.dir;
  }

  node(id: string): ClusterNodeProcess {
    const found = this.nodes.find((n) => n.id === id);
    if (!found) throw new Error(`no node ${id}`);
    return found;
  }

  /** A node that is running and not stopped, to ask (the first such by default). */
  anyLive(except: readonly string[] = []): ClusterNodeProcess {
    const found = this.nodes.find((n) => n.process.alive && !except.includes(n.id));
    if (!found) throw new Error('no live node');
    return found;
  }

  /** Creates the instances through a node's API and links each through the demo scan (requests reach each owner through forwarding). */
  async link(ids: readonly string[], timeoutMs = 180_000, via = this.anyLive()): Promise<void> {
    for (const id of ids) await via.api.create(id);
    await Promise.all(
      ids.map(async (id) => {
        await this.waitFor(id, (i) => i.connectionStatus === 'QR_REQUIRED' && !!i.node, timeoutMs, 'QR_REQUIRED', via);
        await via.api.demo(id, 'scan');
        await this.waitFor(id, (i) => i.connectionStatus === 'CONNECTED', timeoutMs, 'CONNECTED', via);
      }),
    );
  }

  async waitFor(id: string, condition: (i: InstanceSummary) => boolean, timeoutMs: number, what: string, via?: ClusterNodeProcess): Promise<InstanceSummary> {
    const deadline = Date.now() + timeoutMs;
    let last: InstanceSummary | undefined;
    for (;;) {
      const node = via?.process.alive ? via : this.anyLive();
      last = (await node.api.instances().catch(() => [])).find((i) => i.id === id) ?? last;
      if (last && condition(last)) return last;
      if (Date.now() > deadline) throw new Error(`${id} not ${what} within ${timeoutMs} ms (last: ${last?.connectionStatus ?? 'unknown'} on ${last?.node ?? 'no node'})`);
      await sleep(250);
    }
  }

  async nodeList(via = this.anyLive()): Promise<NodeSummary[]> {
    return (await via.api.expectOk<{ nodes: NodeSummary[] }>('GET', '/api/nodes')).nodes;
  }

  /** Every node stopped gracefully (SIGTERM), then nothing of the run left: processes, relays, MariaDB. */
  async close(): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.process.alive) n.process.signal('SIGCONT');
        const exit = await n.process.stop(40_000).catch(() => null);
        if (exit === null && n.process.starts > 0) problems.push(`${n.id} did not exit within 40 s of SIGTERM and was killed`);
      }),
    );
    const survivors = await killProcessesOfRun(this.marker);
    if (survivors.length > 0) problems.push(`processes left after the run: ${survivors.map((p) => p.pid).join(', ')}`);
    await Promise.all(this.nodes.map((n) => n.proxy.close()));
    await this.mysql.stop().catch((err: unknown) => problems.push(String(err)));
    if (this.options.removeDir) rmSync(this.options.dir, { recursive: true, force: true });
    return problems;
  }
}
