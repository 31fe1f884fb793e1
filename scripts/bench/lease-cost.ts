/**
 * What leases cost the database: `npm run bench:lease-cost -- --instances 100 --nodes 3 --window-s 60`.
 *
 * On one private MariaDB (scripts/support/private-mysql.ts, migrated with the product's migrate()),
 * in one run, side by side:
 *   A. one supervisor, CLUSTER=off, running N linked instances;
 *   B. --nodes supervisors, CLUSTER=on, SESSION_STORE=mysql, the product's lease defaults
 *      (LEASE_TTL_MS=15000, LEASE_RENEW_MS=3000), running the same N instances between them.
 * Each supervisor is its own OS process (scripts/bench/support/stand-in-node.ts: the product's
 * Supervisor with the tests' stand-in workers, no browser). Instances are created with
 * POST /api/instances and linked with the demo scan (POST /api/demo/:id/scan, forwarded to the
 * owner in B); the window starts after a warm-up, once every instance is CONNECTED (and, in B,
 * placed), at the same phase of the minute in A and B so that the cron-aligned check loops tick
 * the same number of times in both. Over the window nothing of the bench talks to the database
 * or the API: MariaDB's own counters (SHOW GLOBAL STATUS, Questions and Com_*) are read at both
 * ends, and B − A is what leases (and the extra supervisors) cost, also per node and per instance.
 * The statements the code issues on timers are computed beside the measurement (no statement is
 * counted by text; see support/lease-cost-report.ts for the model and where each figure comes from).
 *
 * Every check loop, the webhook poll and the message sweep run at the product's intervals in
 * both. Changed from the defaults, in both: WA_FLEET_FAKE_WEB=true (the demo scan route),
 * FLEET_MEMORY_CAP_MB (a stand-in's Node process would otherwise fill the cap meant for browsers
 * and the start gate would hold starts back), MIGRATE_ON_START=false (migrated once by the bench).
 *
 * Exits 1 when an instance was not CONNECTED (or, in B, not placed) at either end of a window,
 * when an instance changed hands during B's window, when a supervisor died, when a counter that
 * must move did not, when B's UPDATEs fall short of its lease renewals, or when the cleanup left
 * a process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../lib/timeout.js';
import { SETTINGS } from '../../src/config/index.js';
import { migrate } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger/index.js';
import { MIGRATIONS_DIR, PACKAGE_ROOT } from '../../src/paths.js';
import { freePort } from '../../tests/support/net.js';
import { ApiClient, type InstanceSummary } from '../support/api-client.js';
import { parseOptions, runScriptMain, UsageError, wholeOption } from '../support/cli.js';
import { PrivateMysql } from '../support/private-mysql.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './support/cleanup.js';
import {
  ALL_COUNTERS,
  counterDelta,
  expectedStatements,
  modelTable,
  parseStatus,
  rate,
  RENEWAL,
  statementTable,
  stillCounters,
  workTable,
  type CounterDelta,
  type ModelRow,
} from './support/lease-cost-report.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './support/machine.js';

const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const NODE_ENTRY = join(PACKAGE_ROOT, 'scripts/bench/support/stand-in-node.ts');
/** The product's defaults, written out so the output names them (LEASE_* are CLUSTER=on's). */
const LEASE_TTL_MS = Number(SETTINGS.LEASE_TTL_MS.default);
const LEASE_RENEW_MS = Number(SETTINGS.LEASE_RENEW_MS.default);
const NODE_MAX_INSTANCES = Number(SETTINGS.NODE_MAX_INSTANCES.default);
/** Timers of the product that are not settings (src/webhooks/dispatcher.ts pollMs, src/messages/messages.ts SWEEP_MS). */
const WEBHOOK_POLL_MS = 1_000;
const MESSAGE_SWEEP_MS = 5_000;
/** The window starts this long before a whole minute, in A and B alike (health ticks at :00 and :30, recovery at :00). */
const WINDOW_PHASE_BEFORE_MINUTE_MS = 15_000;
const LINK_TIMEOUT_MS = 8 * 60_000;
const NODE_STOP_GRACE_MS = 40_000;
const SCAN_LANES = 8;
const CREATE_LANES = 4;

/** Every setting the bench gives a supervisor on top of the product's defaults (both phases). */
function commonSettings(o: { port: number; apiKey: string; mysqlUrl: string; dir: string }): Record<string, string> {
  return {
    NODE_ENV: 'development',
    WA_FLEET_FAKE_WEB: 'true',
    HOST: '127.0.0.1',
    PORT: String(o.port),
    API_KEY: o.apiKey,
    MYSQL_URL: o.mysqlUrl,
    MIGRATE_ON_START: 'false',
    SESSION_STORAGE_PATH: join(o.dir, 'sessions'),
    CACHE_PATH: join(o.dir, 'wwebjs_cache'),
    CHROME_PATH,
    LOG_FORMAT: 'json',
    FLEET_MEMORY_CAP_MB: '65536',
  };
}

/** The settings shown in the output, per phase (ports, key, paths left out). */
const SHOWN = ['CLUSTER', 'SESSION_STORE', 'LEASE_TTL_MS', 'LEASE_RENEW_MS', 'FLEET_MEMORY_CAP_MB', 'WA_FLEET_FAKE_WEB', 'MIGRATE_ON_START'];

/** One supervisor process (stand-in workers), started and stopped by signals only. */
class NodeProcess {
  private proc: ChildProcess | null = null;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  readonly api: ApiClient;

  constructor(
    readonly id: string,
    readonly url: string,
    apiKey: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
  ) {
    this.api = new ApiClient(url, apiKey, 30_000);
  }

  get alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    // From the package root: the stand-in workers are forked with `--import tsx`, resolved from the cwd.
    const proc = spawn(process.execPath, ['--import', 'tsx', NODE_ENTRY], { cwd: PACKAGE_ROOT, env: this.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.proc = proc;
    this.exit = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`${this.id} exited during its start (${JSON.stringify(await this.exit)}); see ${this.logFile}`);
      const ok = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`${this.id} did not answer /healthz within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(250);
    }
  }

  /** SIGTERM (the graceful stop of main.ts), SIGKILL after `graceMs`; false when it had to be killed. */
  async stop(graceMs = NODE_STOP_GRACE_MS): Promise<boolean> {
    if (!this.alive) return true;
    this.proc!.kill('SIGTERM');
    const exited = await Promise.race([this.exit.then(() => true), sleep(graceMs).then(() => false)]);
    if (exited) return true;
    if (this.alive) this.proc!.kill('SIGKILL');
    await Promise.race([this.exit, sleep(5_000)]);
    return false;
  }
}

/** What the run started, for the cleanup on any exit. */
interface Run {
  marker: string;
  dir: string;
  mysql: PrivateMysql | null;
  conn: mysql.Connection | null;
  nodes: NodeProcess[];
}

interface PhaseSpec {
  label: string;
  cluster: boolean;
  nodes: number;
}

interface PhaseResult {
  spec: PhaseSpec;
  settings: Record<string, string>;
  d: CounterDelta;
  windowStartMs: number;
  windowEndMs: number;
  /** Instances per node at the start of the window. */
  spread: string;
  /** Audit events written during the window (each one a journal write, each fenced in B). */
  eventsInWindow: number;
  linkedInMs: number;
  problems: string[];
  model: ModelRow[];
  /** Warnings and errors the supervisors logged over the whole phase, by message. */
  logNotes: string[];
}

/** The node's warnings and errors (JSON log lines), counted by message: the run's folder goes at cleanup. */
function logSummary(node: NodeProcess): string[] {
  let text = '';
  try {
    text = readFileSync(node.logFile, 'utf8');
  } catch {
    return [];
  }
  const count = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; message?: string };
      if (entry.level !== 'warn' && entry.level !== 'error') continue;
      // Instance ids and numbers vary: one line per kind of message.
      const key = `${entry.level} ${(entry.message ?? '').replace(/lc-\d+/g, 'lc-…').replace(/\d+/g, 'N').slice(0, 160)}`;
      count.set(key, (count.get(key) ?? 0) + 1);
    } catch {
      /* not a log line */
    }
  }
  return [...count.entries()].map(([k, c]) => `${node.id}: ${c} × ${k}`);
}

/** Runs `work` over `items` with `lanes` at a time. */
async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** The environment a supervisor gets: ours without any product setting of the shell (so the defaults are the product's), then the bench's. */
function nodeEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(SETTINGS)) delete env[name];
  return { ...env, ...settings };
}

async function globalStatus(conn: mysql.Connection): Promise<Map<string, number>> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL STATUS');
  return parseStatus(rows as Array<{ Variable_name: string; Value: string }>);
}

/** Problems with the fleet as the API shows it: instances missing, not CONNECTED, not placed. */
function fleetProblems(when: string, list: readonly InstanceSummary[], ids: readonly string[], cluster: boolean): string[] {
  const byId = new Map(list.map((i) => [i.id, i]));
  const problems: string[] = [];
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length) problems.push(`${when}: ${missing.length} instance(s) missing from GET /api/instances (${missing.slice(0, 5).join(', ')})`);
  const notConnected = ids.flatMap((id) => {
    const i = byId.get(id);
    return i && i.connectionStatus !== 'CONNECTED' ? [`${id} ${i.connectionStatus}`] : [];
  });
  if (notConnected.length) problems.push(`${when}: ${notConnected.length} instance(s) not CONNECTED (${notConnected.slice(0, 5).join(', ')})`);
  if (cluster) {
    const unplaced = ids.filter((id) => byId.has(id) && !byId.get(id)!.node);
    if (unplaced.length) problems.push(`${when}: ${unplaced.length} instance(s) not placed (node null: ${unplaced.slice(0, 5).join(', ')})`);
  }
  return problems;
}

const spreadOf = (list: readonly InstanceSummary[]): string => {
  const count = new Map<string, number>();
  for (const i of list) count.set(i.node ?? 'none', (count.get(i.node ?? 'none') ?? 0) + 1);
  return [...count.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([n, c]) => `${n} ${c}`)
    .join(', ');
};

function statusCounts(list: readonly InstanceSummary[]): string {
  const count = new Map<string, number>();
  for (const i of list) count.set(i.connectionStatus, (count.get(i.connectionStatus) ?? 0) + 1);
  return [...count.entries()].map(([s, c]) => `${s} ${c}`).join(', ') || 'none yet';
}

/** Creates the instances through the first node and links each with the demo scan once it shows its QR (and, in B, has a node). */
async function createAndLink(via: NodeProcess, ids: readonly string[], cluster: boolean, label: string): Promise<void> {
  await inLanes(ids, CREATE_LANES, (id) => via.api.create(id));
  progress(`${label}: ${ids.length} instances created through ${via.id}; linking each with the demo scan`);
  const scannedAt = new Map<string, number>();
  const deadline = Date.now() + LINK_TIMEOUT_MS;
  let lastReport = 0;
  for (;;) {
    const list = (await via.api.instances()).filter((i) => ids.includes(i.id));
    const done = list.filter((i) => i.connectionStatus === 'CONNECTED' && (!cluster || !!i.node));
    if (done.length === ids.length) return;
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress(`${label}: ${statusCounts(list)}${cluster ? `; placed ${spreadOf(list)}` : ''}`);
    }
    if (Date.now() > deadline) throw new Error(`${label}: not every instance CONNECTED within ${LINK_TIMEOUT_MS / 1000} s (${statusCounts(list)})`);
    // A scan not followed by CONNECTED within 15 s is sent again.
    const due = list.filter((i) => i.connectionStatus === 'QR_REQUIRED' && (!cluster || !!i.node) && Date.now() - (scannedAt.get(i.id) ?? 0) > 15_000);
    await inLanes(due, SCAN_LANES, async (i) => {
      scannedAt.set(i.id, Date.now());
      // 503 INSTANCE_NOT_PLACED / a worker restarting: tried again at the next pass.
      await via.api.request('POST', `/api/demo/${encodeURIComponent(i.id)}/scan`).catch(() => undefined);
    });
    await sleep(1_000);
  }
}

/** Waits until the next instant that lies WINDOW_PHASE_BEFORE_MINUTE_MS before a whole minute (and at least `minMs` from now). */
async function waitForWindowPhase(minMs: number): Promise<void> {
  const earliest = Date.now() + minMs;
  const next = Math.ceil((earliest + WINDOW_PHASE_BEFORE_MINUTE_MS) / 60_000) * 60_000 - WINDOW_PHASE_BEFORE_MINUTE_MS;
  await sleep(next - Date.now());
}

async function runPhase(run: Run, spec: PhaseSpec, o: { mysqlUrl: string; apiKey: string; instances: number; windowMs: number; warmupMs: number }): Promise<PhaseResult> {
  const conn = run.conn!;
  const problems: string[] = [];
  const nodes: NodeProcess[] = [];
  let settings: Record<string, string> = {};
  for (let i = 1; i <= spec.nodes; i++) {
    const id = spec.cluster ? `node-${i}` : 'single';
    const port = await freePort();
    const dir = join(run.dir, `${spec.label}-${id}`);
    const url = `http://127.0.0.1:${port}`;
    settings = {
      ...commonSettings({ port, apiKey: o.apiKey, mysqlUrl: o.mysqlUrl, dir }),
      ...(spec.cluster
        ? { CLUSTER: 'on', NODE_ID: id, NODE_URL: url, SESSION_STORE: 'mysql', LEASE_TTL_MS: String(LEASE_TTL_MS), LEASE_RENEW_MS: String(LEASE_RENEW_MS) }
        : { CLUSTER: 'off', SESSION_STORE: 'mysql' }),
    };
    const node = new NodeProcess(id, url, o.apiKey, nodeEnv(settings), join(run.dir, `${spec.label}-${id}.log`));
    nodes.push(node);
    run.nodes.push(node);
  }
  progress(`${spec.label}: starting ${spec.nodes} supervisor process(es) (${spec.cluster ? 'CLUSTER=on' : 'CLUSTER=off'})`);
  await Promise.all(nodes.map((n) => n.start()));
  const ids = Array.from({ length: o.instances }, (_, i) => `lc-${String(i + 1).padStart(3, '0')}`);
  const linkStarted = Date.now();
  await createAndLink(nodes[0]!, ids, spec.cluster, spec.label);
  const linkedInMs = Date.now() - linkStarted;
  progress(`${spec.label}: all ${o.instances} CONNECTED${spec.cluster ? ' and placed' : ''} in ${(linkedInMs / 1000).toFixed(0)} s; warm-up ≥ ${o.warmupMs / 1000} s, then the window at ${60 - WINDOW_PHASE_BEFORE_MINUTE_MS / 1000} s past a minute`);
  await waitForWindowPhase(o.warmupMs);

  // Before the window: the API's view, then the lease epochs and the last audit event, then the counters.
  const before = await nodes[0]!.api.instances();
  problems.push(...fleetProblems('window start', before, ids, spec.cluster));
  const spread = spec.cluster ? spreadOf(before.filter((i) => ids.includes(i.id))) : `single ${before.length}`;
  const [epochRows] = await conn.query<RowDataPacket[]>('SELECT id, owner_node, lease_epoch FROM instances');
  const [[ev0]] = (await conn.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS id FROM instance_events')) as unknown as [[RowDataPacket]];
  const s0 = await globalStatus(conn);
  const t0 = Date.now();
  const p0 = performance.now();
  progress(`${spec.label}: window of ${o.windowMs / 1000} s open (${spread}); nothing of the bench touches the database or the API until it closes`);
  await sleep(o.windowMs);
  const s1 = await globalStatus(conn);
  const p1 = performance.now();
  const t1 = t0 + (p1 - p0);
  const d = counterDelta(s0, s1, p1 - p0, 1);
  progress(`${spec.label}: window closed: ${d.delta.get('Questions')} statements in ${((p1 - p0) / 1000).toFixed(1)} s`);

  // After: what moved, and the fleet's view again.
  const [[ev1]] = (await conn.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS id FROM instance_events')) as unknown as [[RowDataPacket]];
  const eventsInWindow = Number(ev1.id) - Number(ev0.id);
  const [epochAfter] = await conn.query<RowDataPacket[]>('SELECT id, owner_node, lease_epoch FROM instances');
  if (spec.cluster) {
    const was = new Map(epochRows.map((r) => [r.id as string, `${r.owner_node}#${r.lease_epoch}`]));
    const moved = epochAfter.filter((r) => was.get(r.id as string) !== `${r.owner_node}#${r.lease_epoch}`).map((r) => r.id as string);
    if (moved.length) problems.push(`instances changed hands during the window: ${moved.slice(0, 5).join(', ')}${moved.length > 5 ? '…' : ''}`);
  }
  const dead = nodes.filter((n) => !n.alive).map((n) => n.id);
  if (dead.length) problems.push(`supervisor(s) died: ${dead.join(', ')}`);
  const after = await nodes.find((n) => n.alive)!.api.instances().catch(() => []);
  problems.push(...fleetProblems('window end', after, ids, spec.cluster));

  // A steady single supervisor opens no transaction at all (its webhook poll is one plain SELECT):
  // only its reads must move. B's renewals and placement passes are transactions with updates.
  const required = spec.cluster ? ['Questions', 'Com_select', 'Com_update', 'Com_begin', 'Com_commit'] : ['Questions', 'Com_select'];
  const still = stillCounters(d, required);
  if (still.length) problems.push(`counter(s) that did not move in the window: ${still.join(', ')}`);
  const model = expectedStatements({
    nodes: spec.nodes,
    cluster: spec.cluster,
    windowStartMs: t0,
    windowEndMs: t1,
    leaseRenewMs: LEASE_RENEW_MS,
    webhookPollMs: WEBHOOK_POLL_MS,
    sweepMs: MESSAGE_SWEEP_MS,
    healthIntervalMs: Number(SETTINGS.HEALTH_CHECK_INTERVAL_MS.default),
    deepIntervalMs: Number(SETTINGS.DEEP_CHECK_INTERVAL_MS.default),
    recoveryIntervalMs: Number(SETTINGS.RECOVERY_INTERVAL_MS.default),
  });
  if (spec.cluster) {
    // Every renewal is 2 UPDATEs (heartbeat, leases): fewer than 80 % of them means renewals stalled.
    const renewalUpdates = (RENEWAL.update ?? 0) * spec.nodes * ((p1 - p0) / LEASE_RENEW_MS);
    const updates = d.delta.get('Com_update') ?? 0;
    if (updates < 0.8 * renewalUpdates) problems.push(`only ${updates} UPDATEs in the window against ${Math.round(renewalUpdates)} expected from the lease renewals alone`);
  }

  progress(`${spec.label}: stopping the supervisor(s) (SIGTERM)`);
  const stops = await Promise.all(nodes.map(async (n) => [n.id, await n.stop()] as const));
  for (const [id, graceful] of stops) if (!graceful) problems.push(`${id} did not exit within ${NODE_STOP_GRACE_MS / 1000} s of SIGTERM and was killed`);
  const survivors = await killProcessesOfRun(run.marker);
  if (survivors.length) problems.push(`processes left after ${spec.label}: ${survivors.map((p) => p.pid).join(', ')}`);
  run.nodes = run.nodes.filter((n) => !nodes.includes(n));
  const logNotes = nodes.flatMap((n) => logSummary(n));
  const shown = Object.fromEntries(SHOWN.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]!]));
  return { spec, settings: shown, d, windowStartMs: t0, windowEndMs: t1, spread, eventsInWindow, linkedInMs, problems, model, logNotes };
}

function commitOf(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PACKAGE_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: PACKAGE_ROOT }).toString().trim() !== '';
    return `${sha}${dirty ? ' (+ uncommitted changes in the tree)' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function cleanUp(run: Run): Promise<void> {
  await Promise.all(run.nodes.map((n) => n.stop(10_000).catch(() => false)));
  const survivors = await killProcessesOfRun(run.marker);
  if (survivors.length) progress(`cleanup: could not kill ${survivors.map((p) => p.pid).join(', ')}`);
  await run.conn?.end().catch(() => undefined);
  await run.mysql?.stop().catch((err: unknown) => progress(`cleanup: MariaDB stop: ${describeError(err)}`));
  rmSync(run.dir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const { values } = parseOptions(() =>
    parseArgs({
      options: {
        instances: { type: 'string', default: '100' },
        nodes: { type: 'string', default: '3' },
        'window-s': { type: 'string', default: '60' },
        'warmup-s': { type: 'string', default: '20' },
        out: { type: 'string' },
      },
      strict: true,
    }),
  );
  const instances = wholeOption('instances', values.instances, 1);
  const nodeCount = wholeOption('nodes', values.nodes, 2);
  const windowMs = wholeOption('window-s', values['window-s'], 5) * 1000;
  const warmupMs = wholeOption('warmup-s', values['warmup-s'], 0) * 1000;
  if (instances > nodeCount * NODE_MAX_INSTANCES) throw new UsageError(`--instances ${instances} does not fit on ${nodeCount} nodes of NODE_MAX_INSTANCES=${NODE_MAX_INSTANCES}`);
  const command = `node --import tsx scripts/bench/lease-cost.ts ${process.argv.slice(2).join(' ')}`.trim();

  const chromiumAtStart = chromiumProcessCount();
  const load = new LoadWatch();
  const run: Run = { marker: markChildrenOfThisRun(), dir: mkdtempSync(join(tmpdir(), 'wa-fleet-lease-cost-')), mysql: null, conn: null, nodes: [] };
  let cleaning: Promise<void> | null = null;
  const cleanOnce = () => (cleaning ??= cleanUp(run));
  // Ctrl+C reaches this process and, through the terminal, its children; the cleanup stops what is left.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (cleaning) return progress(`${signal}: already cleaning up`);
      progress(`${signal}: stopping every process of this run`);
      void cleanOnce().finally(() => process.exit(130));
    });
  }

  let a: PhaseResult;
  let b: PhaseResult;
  let serverFacts = '';
  try {
    progress('starting a private MariaDB');
    run.mysql = new PrivateMysql(join(run.dir, 'mysql'), 'wa_fleet_lease_cost');
    const mysqlUrl = await run.mysql.start();
    await migrate(mysqlUrl, MIGRATIONS_DIR, createLogger({ level: 'warn', format: 'pretty', secrets: [], stream: process.stderr }));
    run.conn = await mysql.createConnection({ uri: mysqlUrl });
    const [[server]] = (await run.conn.query<RowDataPacket[]>(
      'SELECT @@version AS version, @@innodb_flush_log_at_trx_commit AS flush, @@log_bin AS binlog, @@innodb_buffer_pool_size AS pool',
    )) as unknown as [[RowDataPacket]];
    serverFacts = `MariaDB ${server.version} (private server of the run, scripts/support/private-mysql.ts): innodb_flush_log_at_trx_commit=${server.flush}, binary log ${Number(server.binlog) ? 'on' : 'off'}, buffer pool ${Math.round(Number(server.pool) / 1024 ** 2)} MiB`;
    const apiKey = randomBytes(24).toString('hex');
    const common = { mysqlUrl, apiKey, instances, windowMs, warmupMs };
    a = await runPhase(run, { label: 'A', cluster: false, nodes: 1 }, common);
    // B starts from the same empty fleet: A's rows go (their events, outbox rows and keys with them).
    for (const table of ['webhook_outbox', 'instance_events', 'instances', 'nodes']) await run.conn.query(`DELETE FROM ${table}`);
    b = await runPhase(run, { label: 'B', cluster: true, nodes: nodeCount }, common);
  } finally {
    await cleanOnce();
    progress(`cleaned up: nodes, stand-in workers and the private MariaDB stopped; Chromium processes on the machine ${chromiumAtStart} before, ${chromiumProcessCount()} now`);
  }

  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const rowA = { label: `A: 1 supervisor, CLUSTER=off, ${instances} instances`, d: a.d };
  const rowB = { label: `B: ${nodeCount} supervisors, CLUSTER=on, ${instances} instances`, d: b.d };
  const leaseModel = b.model.filter((r) => r.lease).reduce((s, r) => s + r.statements, 0) / (b.d.windowMs / 1000);
  const dup = (ph: PhaseResult) => ph.model.filter((r) => !r.lease).reduce((s, r) => s + r.statements, 0) / (ph.d.windowMs / 1000);
  const measuredDiff = (rate(b.d, 'Questions') ?? 0) - (rate(a.d, 'Questions') ?? 0);
  const problems = [...a.problems.map((p) => `A: ${p}`), ...b.problems.map((p) => `B: ${p}`)];
  const lines = [
    `Command: ${command}`,
    `Commit: ${commitOf()}`,
    machineFacts(CHROME_PATH, chromiumAtStart),
    load.summary(),
    serverFacts,
    `Workers: stand-ins (tests/support/fixtures/stand-in-worker.ts: the worker protocol, no browser); each supervisor its own process (scripts/bench/support/stand-in-node.ts)`,
    `A settings: ${Object.entries(a.settings).map(([k, v]) => `${k}=${v}`).join(' ')}; 1 process; window ${seconds(a.d.windowMs)} s from ${new Date(a.windowStartMs).toISOString()}; linked in ${seconds(a.linkedInMs)} s`,
    `B settings: ${Object.entries(b.settings).map(([k, v]) => `${k}=${v}`).join(' ')}; ${nodeCount} processes; placed ${b.spread}; window ${seconds(b.d.windowMs)} s from ${new Date(b.windowStartMs).toISOString()}; linked in ${seconds(b.linkedInMs)} s`,
    `Both: every check-loop interval, the webhook poll (1 s) and the message sweep (5 s) at the product's defaults; warm-up ≥ ${warmupMs / 1000} s after all CONNECTED; window opened ${WINDOW_PHASE_BEFORE_MINUTE_MS / 1000} s before a whole minute in both.`,
    `Session backups: none in either window. The stand-in worker makes none (a real worker backs its session up through the supervisor 60 s after linking, then every SESSION_BACKUP_INTERVAL_MS=300000: the cost of SESSION_STORE=mysql, not of leases); it answers the hand-over's backup_session with { saved: false }.`,
    '',
    'Database statements per second (SHOW GLOBAL STATUS deltas over the window; Questions less the bench\'s own closing SHOW):',
    '',
    statementTable(rowA, rowB, nodeCount, instances),
    '',
    'What the statements cost the server, per second:',
    '',
    workTable(rowA, rowB),
    '',
    'Where they come from: the statements the code issues on timers (computed from src/, not counted by text), beside the measurement:',
    '',
    modelTable('A', a.model, a.d, 1),
    '',
    modelTable('B', b.model, b.d, nodeCount),
    '',
    `Supervisor log warnings/errors over each phase (boot, linking, window, shutdown): ${[...a.logNotes.map((n) => `A ${n}`), ...b.logNotes.map((n) => `B ${n}`)].join('; ') || 'none'}.`,
    `Audit events written in the window (journal writes; in B each one also runs the fencing SELECT … FOR UPDATE): A ${a.eventsInWindow}, B ${b.eventsInWindow}.`,
    `Reading: B − A measured ${measuredDiff.toFixed(2)} statements/s; expected ${(leaseModel + dup(b) - dup(a)).toFixed(2)}: leases ${leaseModel.toFixed(2)} ` +
      `(${(leaseModel / nodeCount).toFixed(2)} per node, ${(leaseModel / instances).toFixed(3)} per instance) + the ${nodeCount - 1} extra supervisors' own timers ${(dup(b) - dup(a)).toFixed(2)}. ` +
      `Measured B − A less those timers: ${(measuredDiff - (dup(b) - dup(a))).toFixed(2)} statements/s for the lease machinery (${((measuredDiff - (dup(b) - dup(a))) / nodeCount).toFixed(2)} per node, ${((measuredDiff - (dup(b) - dup(a))) / instances).toFixed(3)} per instance).`,
    '',
    problems.length === 0 ? 'checks: ok (every instance CONNECTED and placed at both ends of both windows, none changed hands, every counter moved, renewals all there, nothing left behind)' : problems.map((p) => `FAILED ${p}`).join('\n'),
  ];
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  if (values.out) {
    writeFileSync(resolve(values.out), `${report}\n`);
    writeFileSync(
      `${resolve(values.out)}.json`,
      JSON.stringify({ command, instances, nodes: nodeCount, counters: ALL_COUNTERS, a: { ...a, d: { ...a.d, delta: Object.fromEntries(a.d.delta) } }, b: { ...b, d: { ...b.d, delta: Object.fromEntries(b.d.delta) } } }, null, 2),
    );
  }
  return problems.length === 0 ? 0 : 1;
}

runScriptMain('bench:lease-cost', main);
