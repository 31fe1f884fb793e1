import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { cutDatabase, freezeNode, heldBy, killNode, stopNode, type FailoverSettings, type ScenarioResult } from '../../scripts/cluster/failover.js';
import { ClusterSampler } from '../../scripts/cluster/sampler.js';
import { ClusterRun } from '../../scripts/support/cluster-run.js';

/*
 * CLUSTER=on as users run it: 3 supervisors as separate processes (`npm run cluster`'s harness:
 * built entry, demo mode, own ports, NODE_IDs and session folders, SESSION_STORE=mysql), one
 * MariaDB reached by each node through its own TCP relay, real workers and Chromium on the fake
 * page. 6 linked instances, then a node SIGKILLed, a node SIGSTOPped for 2 × LEASE_TTL_MS, a node
 * cut from MySQL and a node stopped gracefully; throughout, every 200 ms, the sampler judges that
 * no instance ever has two live browsers and none stays enabled and unowned past TTL + one claim
 * interval. `npm run bench:failover` runs the same scenarios with 12 instances and prints the table.
 */

// A node self-fences 8 s after its last renewal began: four renewals of slack on a loaded machine
// (the suite runs another file beside this one, and a renewal waits behind its node's own writes).
const SETTINGS: FailoverSettings = { leaseTtlMs: 10_000, leaseRenewMs: 2_000, moveBoundMs: 60_000 };
const IDS = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];

let run: ClusterRun;
let pool: Pool;
let sampler: ClusterSampler;
const results: ScenarioResult[] = [];
let failures = 0;
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failures++;
});
const dir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'cluster-'));

beforeAll(async () => {
  run = await ClusterRun.start({
    nodes: 3,
    dir,
    chromePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    // Kept when a test failed: the nodes' logs are the evidence.
    removeDir: false,
    settings: {
      LEASE_TTL_MS: String(SETTINGS.leaseTtlMs),
      LEASE_RENEW_MS: String(SETTINGS.leaseRenewMs),
      SESSION_FIRST_BACKUP_DELAY_MS: '2000',
      SESSION_BACKUP_INTERVAL_MS: '60000',
    },
  });
  pool = createPool({ url: run.mysqlUrl, size: 2 });
  sampler = new ClusterSampler(pool, dir, SETTINGS);
  sampler.start();
}, 180_000);

afterAll(async () => {
  sampler?.stop();
  await pool?.end().catch(() => undefined);
  const problems = (await run?.close()) ?? [];
  if (failures > 0 || sampler?.judge.violations.length) {
    // The test folder goes at the end of the suite: the nodes' logs are kept outside it.
    const logs = mkdtempSync(join(tmpdir(), 'wa-fleet-cluster-logs-'));
    for (const n of run?.nodes ?? []) cpSync(n.logFile, join(logs, `${n.id}.log`));
    writeFileSync(join(logs, 'samples.json'), JSON.stringify(sampler?.history ?? []));
    process.stdout.write(`cluster test failed: the nodes' logs and every sample are in ${logs}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
  expect(problems).toEqual([]);
}, 180_000);

const table = () =>
  results
    .map((r) => {
      const ms = r.moved.map((m) => m.ms ?? Infinity).sort((a, b) => a - b);
      return `${r.scenario.padEnd(14)} ${r.node}: ${r.moved.length} moved, median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms.at(-1)} ms (${r.moved.map((m) => `${m.id}→${m.to}`).join(' ')}) ${r.notes.join('; ')}`;
    })
    .join('\n');

/** The node running the most instances now. */
async function busiest(): Promise<string> {
  const sample = await sampler.fresh();
  const nodes = run.nodes.filter((n) => n.process.alive).map((n) => n.id);
  return nodes.sort((a, b) => heldBy(sample ?? undefined, b).length - heldBy(sample ?? undefined, a).length)[0]!;
}

describe('three nodes on one MySQL', () => {
  it('spread 6 linked instances 2 per node through any node, answer for each from any node, and back each session up', { timeout: 240_000 }, async () => {
    await run.link(IDS, 180_000, run.node('node-1'));
    const nodes = await run.nodeList();
    expect(nodes.map((n) => [n.id, n.state, n.load])).toEqual([
      ['node-1', 'up', 2],
      ['node-2', 'up', 2],
      ['node-3', 'up', 2],
    ]);
    // A request reaches the owner whichever node it was sent to.
    const list = await run.node('node-1').api.instances();
    for (const id of IDS) {
      const owner = list.find((i) => i.id === id)!.node!;
      const asker = run.nodes.find((n) => n.id !== owner)!;
      const res = await fetch(`${asker.url}/api/instance/${id}/details`, { headers: { 'x-api-key': run.apiKey } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-wa-fleet-node')).toBe(owner);
      const body = (await res.json()) as { instance: { node: string; connectionStatus: string; worker: { pid: number } | null } };
      expect(body.instance.node).toBe(owner);
      // The owner's live view: its worker.
      expect(body.instance.worker?.pid, JSON.stringify(body.instance)).toBeGreaterThan(0);
    }
    // Moved without a QR only once stored: SESSION_FIRST_BACKUP_DELAY_MS after each was linked.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM session_backups');
      if (Number(rows[0]!.n) === IDS.length) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${IDS.length} sessions backed up within 60 s`);
      await sleep(500);
    }
  });

  it('a node cut from MySQL alone: its browsers stop, its instances move, the other nodes never notice', { timeout: 120_000 }, async () => {
    const result = await cutDatabase(run, sampler, pool, await busiest(), SETTINGS);
    results.push(result);
    expect(result.problems, table()).toEqual([]);
    // The other nodes' instances were watched through the cut, not just assumed undisturbed.
    expect(result.notes.join(' ')).toMatch(/^[1-9]\d* instance\(s\) of the other nodes watched/);
  });

  it('SIGKILL of a node: each of its instances is CONNECTED on a survivor within 60 s, without a QR', { timeout: 120_000 }, async () => {
    const node = await busiest();
    const [[{ last }]] = (await pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS last FROM instance_events')) as unknown as [[{ last: number }]];
    const result = await killNode(run, sampler, pool, node, SETTINGS);
    results.push(result);
    expect(result.problems, table()).toEqual([]);
    expect(result.moved.length).toBeGreaterThan(0);
    // Each move is recorded once, by the node that took it, naming where it came from.
    const [moved] = await pool.query<RowDataPacket[]>("SELECT instance_id, node, JSON_VALUE(data, '$.from') AS origin FROM instance_events WHERE type = 'instance.moved' AND id > ?", [last]);
    expect(moved.map((r) => `${r.instance_id} ${r.origin}→${r.node}`).sort()).toEqual(result.moved.map((m) => `${m.id} ${node}→${m.to}`).sort());
    // It comes back empty: nothing is free, nothing is taken from the others.
    await run.node(result.node).process.start();
  });

  it('SIGSTOP of a node for 2 × LEASE_TTL_MS: its instances move meanwhile; thawed, it writes nothing for them and none of its browsers is left', { timeout: 120_000 }, async () => {
    const result = await freezeNode(run, sampler, pool, await busiest(), SETTINGS);
    results.push(result);
    expect(result.problems, table()).toEqual([]);
  });

  it('a graceful stop hands every instance over: CONNECTED elsewhere, no QR, no lease left to lapse', { timeout: 120_000 }, async () => {
    const result = await stopNode(run, sampler, pool, await busiest(), SETTINGS);
    results.push(result);
    expect(result.problems, table()).toEqual([]);
  });

  it('sampled every 200 ms throughout: never two live browsers for one instance, never an instance unowned past TTL + a claim interval', () => {
    sampler.stop();
    process.stdout.write(`${table()}\n`);
    expect(sampler.judge.violations).toEqual([]);
    // Evidence: samples across every scenario, browsers and rows seen in them.
    expect(sampler.judge.evidence.samples).toBeGreaterThan(100);
    expect(sampler.judge.evidence.browsersSeen).toBeGreaterThan(100);
    expect(results.map((r) => r.scenario)).toEqual(['mysql_cut', 'sigkill', 'sigstop', 'graceful_stop']);
  });
});
