import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../lib/timeout.js';
import type { Pool } from '../../src/db/pool.js';
import type { ApiClient } from '../support/api-client.js';
import { ClusterRun } from '../support/cluster-run.js';
import { DemoRun } from '../support/demo-run.js';
import { ClusterTarget, singleTarget, type ChaosTarget } from './target.js';

/** The lease timing of a run of several nodes. */
export interface LeaseTiming {
  leaseTtlMs: number;
  leaseRenewMs: number;
}

export interface ProductOptions {
  /** 1: one supervisor with its own MariaDB (DemoRun); more: that many nodes on one MariaDB (ClusterRun). */
  nodes: number;
  outDir: string;
  settings: Record<string, string>;
  chromePath: string;
  entry?: string;
  lease: LeaseTiming;
}

/**
 * The product a chaos run works on, as one supervisor or as several nodes: what the faults aim at
 * (`target`), its database, and the event streams to listen to (one per node: a node announces
 * its own changes only).
 */
export interface ChaosProduct {
  target: ChaosTarget;
  mysqlUrl: string;
  webhookSecret: string;
  eventSources: Array<{ node: string | null; api: ApiClient }>;
  single?: DemoRun;
  cluster?: { run: ClusterRun; target: ClusterTarget };
  /** Creates the instances and links each; with several nodes, also waits for each session's first backup (a move before it would need a QR). */
  link(ids: readonly string[], pool: Pool): Promise<void>;
  /** Stops everything; the logs stay in the run's folder. Returns what was left behind. */
  close(): Promise<string[]>;
}

export async function startProduct(o: ProductOptions, progress: (line: string) => void): Promise<ChaosProduct> {
  if (o.nodes <= 1) {
    const run = await DemoRun.start({ name: 'chaos', outDir: o.outDir, settings: o.settings, chromePath: o.chromePath, entry: o.entry });
    return {
      target: singleTarget(run),
      mysqlUrl: run.mysqlUrl,
      webhookSecret: run.webhookSecret,
      eventSources: [{ node: null, api: run.api }],
      single: run,
      link: (ids) => run.link(ids),
      close: () => run.close(),
    };
  }
  const webhookSecret = randomBytes(24).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'wa-fleet-chaos-nodes-'));
  const started = ClusterRun.start(
    {
      nodes: o.nodes,
      dir,
      chromePath: o.chromePath,
      entry: o.entry,
      settings: {
        ...o.settings,
        WEBHOOK_SECRET: webhookSecret,
        LEASE_TTL_MS: String(o.lease.leaseTtlMs),
        LEASE_RENEW_MS: String(o.lease.leaseRenewMs),
        // As the failover bench: the first backup 5 s after linking, not RemoteAuth's minute.
        SESSION_FIRST_BACKUP_DELAY_MS: '5000',
      },
    },
    progress,
  );
  const run = await started.catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const target = new ClusterTarget(run);
  return {
    target,
    mysqlUrl: run.mysqlUrl,
    webhookSecret,
    eventSources: run.nodes.map((n) => ({ node: n.id, api: n.api })),
    cluster: { run, target },
    link: async (ids, pool) => {
      await run.link(ids, 300_000, run.node('node-1'));
      progress(`placed: ${(await run.nodeList()).map((n) => `${n.id} ${n.load}`).join(', ')}; waiting for every session's first backup`);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM session_backups WHERE instance_id IN (?)', [ids]);
        if (Number(rows[0]!.n) >= ids.length) return;
        if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${ids.length} sessions backed up within 120 s`);
        await sleep(1_000);
      }
    },
    close: async () => {
      const problems = await run.close();
      // Each node's log is the evidence behind a violation: kept beside the report, then the rest goes.
      mkdirSync(o.outDir, { recursive: true });
      for (const n of run.nodes) if (existsSync(n.logFile)) copyFileSync(n.logFile, join(o.outDir, `${n.id}.log`));
      rmSync(dir, { recursive: true, force: true });
      return problems;
    },
  };
}
