/**
 * Failover across nodes, measured: `npm run bench:failover -- --instances 12` starts 3 nodes as
 * separate processes (`npm run cluster`'s harness: built entry, demo mode, CLUSTER=on,
 * SESSION_STORE=mysql, one MariaDB reached by each node through its own TCP relay), links the
 * instances (placement spreads them), waits for every session's first backup, then takes a node
 * away four ways, each time the node running the most instances:
 *   SIGKILL; SIGSTOP for 2 × LEASE_TTL_MS then SIGCONT; its MySQL cut (relay reset); SIGTERM.
 * For each it prints every moved instance's fault → CONNECTED-on-another-node time (median, max)
 * and whether a QR was shown, and the checks of the scenario. Throughout, every 200 ms, the sampler
 * judges: never two live browsers for one instance, never an enabled instance owned by nobody for
 * longer than LEASE_TTL_MS + LEASE_RENEW_MS. Exits 1 when any of it failed.
 *
 * Run: npm run build && npm run bench:failover -- [--instances 12] [--ttl-ms 15000] [--renew-ms 3000] [--out DIR]
 * Lease timing defaults are the product's. SESSION_FIRST_BACKUP_DELAY_MS is 5000 so the bench does
 * not wait RemoteAuth's minute per session; nothing else is changed from demo mode's defaults.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../lib/timeout.js';
import { createPool } from '../../src/db/pool.js';
import { cutDatabase, freezeNode, heldBy, killNode, stopNode, type FailoverSettings, type ScenarioResult } from '../cluster/failover.js';
import { ClusterSampler } from '../cluster/sampler.js';
import { parseOptions, requireBuiltSupervisor, runScriptMain, wholeOption } from '../support/cli.js';
import { ClusterRun } from '../support/cluster-run.js';
import { CHROME_PATH } from './support/fleet-run.js';
import { chromiumProcessCount, LoadWatch, machineFacts, progress } from './support/machine.js';
import { median } from './support/report.js';
import { DASH, renderTable, seconds } from './support/table.js';

async function main(): Promise<number> {
  const { values } = parseOptions(() =>
    parseArgs({
      options: {
        instances: { type: 'string', default: '12' },
        'ttl-ms': { type: 'string', default: '15000' },
        'renew-ms': { type: 'string', default: '3000' },
        out: { type: 'string', default: `data/failover/${new Date().toISOString().replace(/[:.]/g, '-')}` },
      },
    }),
  );
  const instances = wholeOption('instances', values.instances, 3);
  const settings: FailoverSettings = { leaseTtlMs: wholeOption('ttl-ms', values['ttl-ms'], 3000), leaseRenewMs: wholeOption('renew-ms', values['renew-ms'], 200), moveBoundMs: 60_000 };
  requireBuiltSupervisor();
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const chromiumAtStart = chromiumProcessCount();
  const load = new LoadWatch();
  const dir = mkdtempSync(join(tmpdir(), 'wa-fleet-failover-'));
  const run = await ClusterRun.start(
    {
      nodes: 3,
      dir,
      chromePath: CHROME_PATH,
      removeDir: true,
      settings: { LEASE_TTL_MS: String(settings.leaseTtlMs), LEASE_RENEW_MS: String(settings.leaseRenewMs), SESSION_FIRST_BACKUP_DELAY_MS: '5000' },
    },
    progress,
  );
  const pool = createPool({ url: run.mysqlUrl, size: 2 });
  const sampler = new ClusterSampler(pool, dir, settings);
  const results: ScenarioResult[] = [];
  let spread = '';
  try {
    const ids = Array.from({ length: instances }, (_, i) => `fo-${String(i + 1).padStart(2, '0')}`);
    progress(`linking ${instances} instances through node-1`);
    await run.link(ids, 300_000, run.node('node-1'));
    spread = (await run.nodeList()).map((n) => `${n.id} ${n.load}`).join(', ');
    progress(`placed: ${spread}; waiting for every session's first backup`);
    for (;;) {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM session_backups');
      if (Number(rows[0]!.n) >= instances) break;
      await sleep(1_000);
    }
    sampler.start();
    const busiest = async () => {
      const s = (await sampler.fresh()) ?? undefined;
      return run.nodes.filter((n) => n.process.alive).map((n) => n.id).sort((a, b) => heldBy(s, b).length - heldBy(s, a).length)[0]!;
    };
    // The cut first, while every node runs instances: the other nodes' must be seen undisturbed.
    for (const [name, scenario] of [
      ['MySQL cut', cutDatabase],
      ['SIGKILL', killNode],
      ['SIGSTOP', freezeNode],
      ['SIGTERM', stopNode],
    ] as const) {
      const node = await busiest();
      progress(`${name} on ${node} (${heldBy(sampler.last, node).length} instances)`);
      const result = await scenario(run, sampler, pool, node, settings);
      results.push(result);
      progress(`  ${result.moved.length} moved; ${result.problems.length === 0 ? 'ok' : result.problems.join('; ')}`);
      // A killed node comes back (empty) so that every scenario has three nodes to choose from.
      if (result.scenario === 'sigkill') await run.node(node).process.start();
      await sleep(settings.leaseRenewMs * 2);
    }
  } finally {
    sampler.stop();
    await pool.end().catch(() => undefined);
    const left = await run.close();
    for (const p of left) results.push({ scenario: 'graceful_stop', node: 'cleanup', moved: [], problems: [p], notes: [] });
  }
  const header = ['fault', 'node', 'instances moved', 'fault → CONNECTED elsewhere, median (s)', 'max (s)', 'QR shown', 'checks'];
  const rows = results
    .filter((r) => r.node !== 'cleanup')
    .map((r) => {
      const times = r.moved.flatMap((m) => (m.ms === null ? [] : [m.ms]));
      return [r.scenario, r.node, String(r.moved.length), seconds(median(times)), times.length ? seconds(Math.max(...times)) : DASH, String(r.moved.filter((m) => m.qr).length), r.problems.length === 0 ? 'ok' : `${r.problems.length} failed`];
    });
  const perInstance = results.flatMap((r) => r.moved.map((m) => [r.scenario, m.id, `${r.node} → ${m.to ?? DASH}`, m.ms === null ? DASH : seconds(m.ms), m.qr ? 'yes' : 'no']));
  const { judge } = sampler;
  const lines = [
    machineFacts(CHROME_PATH, chromiumAtStart),
    load.summary(),
    `settings: LEASE_TTL_MS=${settings.leaseTtlMs} LEASE_RENEW_MS=${settings.leaseRenewMs}, ${instances} instances on 3 nodes (${spread})`,
    '',
    renderTable(header, rows, 2),
    '',
    renderTable(['fault', 'instance', 'from → to', 'fault → CONNECTED (s)', 'QR'], perInstance, 3),
    '',
    `invariants, sampled every 200 ms (${judge.evidence.samples} samples, ${judge.evidence.browsersSeen} browser observations, longest unowned ${judge.evidence.maxUnownedMs} ms; bound ${settings.leaseTtlMs + settings.leaseRenewMs} ms):`,
    judge.violations.length === 0 ? '  never two live browsers for one instance; never an instance unowned past the bound' : judge.violations.map((v) => `  VIOLATION ${v}`).join('\n'),
    ...results.flatMap((r) => [...r.notes.map((n) => `${r.scenario}: ${n}`), ...r.problems.map((p) => `${r.scenario}: FAILED ${p}`)]),
  ];
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  writeFileSync(join(out, 'report.txt'), `${report}\n`);
  writeFileSync(join(out, 'report.json'), JSON.stringify({ settings, instances, results, evidence: judge.evidence, violations: judge.violations }, null, 2));
  const failed = judge.violations.length > 0 || results.some((r) => r.problems.length > 0) || judge.evidence.samples === 0;
  return failed ? 1 : 0;
}

runScriptMain('bench:failover', main);
