/**
 * What one WhatsApp session costs, wa-fleet's worker against a plain whatsapp-web.js client, on
 * the fake WhatsApp Web with real Chromium: time to `qr` (fresh profile), time to `ready`
 * (restored session), and PSS / RSS of the Node process and of its Chromium tree, after ready
 * and after the page has allocated `--alloc-mb` MiB (real WhatsApp Web holds a big heap).
 * N = 1 and N = 4 instances started together; medians of `--runs` runs. The worker runs in both
 * BROWSER_SANDBOX modes, as WORKER_USER when the bench runs as root (as the fleet's would), and
 * with the product's defaults, WORKER_SPARE=on: a spare worker forked before the clock starts.
 * Prints a markdown table on stdout and its progress on stderr.
 *
 * Run: npx tsx scripts/bench/worker-footprint.ts [--runs 5] [--alloc-mb 100] [--from built|source]
 *
 * `--from built` (the default, after `npm run build`): the worker is dist/'s and the plain client
 * is compiled with tsc first, so that both run as JavaScript, as in production; `--from source`
 * runs both through the tsx loader, which slows every module load (the worker's more, it has more).
 *
 * Variants are interleaved within each run, so that load from anything else on the machine
 * falls on all of them alike. PSS divides shared pages among all their sharers, including
 * Chromium processes this bench did not start: compare rows of one run, not across machines.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemory, sampleTree } from '../../lib/proc-memory.js';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { SETTINGS } from '../../src/config/settings.js';
import { chromiumArgs } from '../../src/worker/chromium-args.js';
import { workerIdentity, WorkerHandle } from '../../src/worker/handle.js';
import { WorkerEvent } from '../../src/worker/protocol.js';
import { SpareWorker } from '../../src/worker/spare-worker.js';
import { resolveWorkerUser } from '../../src/worker/worker-user.js';
import { EventLog } from '../../tests/support/workers.js';
import { readAnonPssBytes } from './support/anon-pss.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './support/cleanup.js';
import { PLAIN_CHROMIUM_ARGS } from './support/flags.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { builtEntries } from './support/built-entries.js';
import { startInstance, type BenchInstance, type Host } from './support/instances.js';
import { markdownTable, medianMemory, perInstance, type InstanceMemory, type Row, type RunResult } from './support/report.js';

interface Variant {
  name: string;
  host: Host;
  chromiumArgs: readonly string[];
  /**
   * One spare worker (WORKER_SPARE=on), forked and loaded before the clock starts, as a running
   * fleet holds it: the first of the N starts takes it, the others fork their own, and a new
   * spare is forked once a start is done, as the fleet's launcher does.
   */
  spare?: boolean;
}

const WORKER_USER = resolveWorkerUser(process.env.WORKER_USER ?? SETTINGS.WORKER_USER.default);

/** The variants, their Node entries the built ones (`--from built`) or the sources through tsx. */
function variants(entries: { worker?: string; plain?: string }): Variant[] {
  const worker = entries.worker ? { entry: entries.worker } : {};
  const plain = entries.plain ? { entry: entries.plain } : {};
  return [
    { name: '(a) wa-fleet worker, BROWSER_SANDBOX=off', host: { kind: 'worker', sandbox: false, user: WORKER_USER, ...worker }, chromiumArgs: chromiumArgs(false) },
    { name: '(b) plain whatsapp-web.js', host: { kind: 'plain', chromiumArgs: PLAIN_CHROMIUM_ARGS, ...plain }, chromiumArgs: PLAIN_CHROMIUM_ARGS },
    { name: '(c) wa-fleet worker, BROWSER_SANDBOX=on', host: { kind: 'worker', sandbox: true, user: WORKER_USER, ...worker }, chromiumArgs: chromiumArgs(true) },
    // The product's default: WORKER_SPARE=on, BROWSER_SANDBOX=off.
    {
      name: '(d) wa-fleet worker, BROWSER_SANDBOX=off, WORKER_SPARE=on',
      host: { kind: 'worker', sandbox: false, user: WORKER_USER, ...worker },
      chromiumArgs: chromiumArgs(false),
      spare: true,
    },
  ];
}
const SIZES = [1, 4] as const;

/** How long N clients may take to reach an event; generous, the machine may be shared. */
const EVENT_TIMEOUT_MS = 90_000;
/** After ready the page and the library still settle (late injections, lazy allocations). */
const SETTLE_AFTER_READY_MS = 1_000;
const SETTLE_AFTER_ALLOC_MS = 500;
/** Memory is the median of a few samples: PSS jumps for a moment when any Chromium on the machine starts or stops. */
const SAMPLES = 3;
const SAMPLE_INTERVAL_MS = 300;

const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';

/** Set by Ctrl+C: from then on nothing new is started, so the clean-up cannot miss it. */
let interrupted = false;

function options(): { runs: number; allocMb: number; from: 'built' | 'source' } {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '5' }, 'alloc-mb': { type: 'string', default: '100' }, from: { type: 'string', default: 'built' } },
    strict: true,
  });
  if (values.from !== 'built' && values.from !== 'source') throw new Error(`--from must be built or source, got ${values.from}`);
  const runs = Number(values.runs);
  const allocMb = Number(values['alloc-mb']);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1, got ${values.runs}`);
  if (!Number.isInteger(allocMb) || allocMb < 0) throw new Error(`--alloc-mb must be a whole number >= 0, got ${values['alloc-mb']}`);
  return { runs, allocMb, from: values.from };
}

function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function header(runs: number, allocMb: number, from: string, chromiumAtStart: number, load: LoadWatch): string {
  return [
    machineFacts(CHROME_PATH, chromiumAtStart),
    `whatsapp-web.js ${packageVersion('whatsapp-web.js')}, puppeteer ${packageVersion('puppeteer')}; ${load.summary()}`,
    `Runs: ${runs} per row; page allocation: ${allocMb} MiB; ${from === 'built' ? 'Node entries built (dist/ worker, tsc-compiled plain client)' : 'Node entries from sources through the tsx loader'}; workers run as ${WORKER_USER ? `${WORKER_USER.name} (uid ${WORKER_USER.uid})` : 'this process\'s user'}`,
  ].join('\n');
}

function flagsReport(all: readonly Variant[]): string {
  return all.map((v) => `- ${v.name}: \`${v.chromiumArgs.join(' ')}\``).join('\n');
}

function sampleInstance(instance: BenchInstance): InstanceMemory {
  const { nodePid, browserPid } = instance;
  if (nodePid === null || browserPid === null) throw new Error('an instance has no Node or browser pid to measure');
  const node = readMemory(nodePid);
  if (!node) throw new Error(`the Node process ${nodePid} is gone`);
  const browser = sampleTree(browserPid);
  if (browser.pids.length === 0) throw new Error(`the browser ${browserPid} is gone`);
  return {
    nodePss: node.pssBytes,
    nodeAnon: readAnonPssBytes(nodePid) ?? 0,
    nodeRss: node.rssBytes,
    browserPss: browser.pssBytes,
    browserAnon: browser.pids.reduce((sum, pid) => sum + (readAnonPssBytes(pid) ?? 0), 0),
    browserRss: browser.rssBytes,
    browserProcesses: browser.pids.length,
  };
}

/** Per instance memory of N instances, median of a few samples taken `SAMPLE_INTERVAL_MS` apart. */
async function sampleSettled(instances: readonly BenchInstance[]): Promise<InstanceMemory> {
  const samples: InstanceMemory[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(SAMPLE_INTERVAL_MS);
    samples.push(perInstance(instances.map(sampleInstance)));
  }
  return medianMemory(samples);
}

async function stopAll(instances: readonly BenchInstance[], spare: SpareWorker | null = null): Promise<void> {
  await Promise.all([...instances.map((i) => i.stop()), spare?.close()]);
}

/** A spare worker ready to be taken (WORKER_SPARE=on), its HOME `home` until an instance's; null when the variant has none. */
async function readySpare(variant: Variant, home: string): Promise<SpareWorker | null> {
  if (!variant.spare || variant.host.kind !== 'worker') return null;
  const entry = variant.host.entry;
  const spare = new SpareWorker(() => WorkerHandle.fork(workerIdentity(WORKER_USER, home), null, entry), EVENT_TIMEOUT_MS);
  spare.fill();
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while (spare.readyPid === null) {
    if (Date.now() > deadline) {
      await spare.close();
      throw new Error('the spare worker was not ready in time');
    }
    await sleep(50);
  }
  const idle = readMemory(spare.readyPid);
  if (idle) sparePss.push(idle.pssBytes);
  return spare;
}

/** PSS of each spare once ready (idle, the library loaded): what WORKER_SPARE=on adds to a fleet, once, not per instance. */
const sparePss: number[] = [];

function spareReport(): string {
  if (sparePss.length === 0) return '';
  const sorted = [...sparePss].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `\n(d)'s spare worker, idle with the library loaded (once per fleet, not in the per-instance figures): PSS median ${Math.round(median / (1024 * 1024))} MiB over ${sorted.length} spares.\n`;
}

/**
 * Starts N instances together; `t0` is just before the first fork (or, with a spare, the first
 * start that takes it). All start, or none is left running. The spare (forked before `t0`) and
 * the one forked after the start that took it are closed by `stopAll`.
 */
async function startAll(variant: Variant, sessionRoot: string, n: number): Promise<{ t0: number; instances: BenchInstance[]; spare: SpareWorker | null }> {
  if (interrupted) throw new Error('interrupted');
  const spare = await readySpare(variant, dirname(sessionRoot));
  const t0 = Date.now();
  const started = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      startInstance({ host: variant.host, sessionRoot, instanceId: `bench-${i}`, chromePath: CHROME_PATH, spare }, new EventLog()),
    ),
  );
  const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll(instances, spare);
    throw failed.reason;
  }
  return { t0, instances, spare };
}

/** Milliseconds from t0 until every instance has reported `event`. */
async function allReached(instances: readonly BenchInstance[], event: WorkerEvent, t0: number): Promise<number> {
  const seen = await Promise.all(instances.map((i) => i.log.waitFor(event, EVENT_TIMEOUT_MS)));
  return Math.max(...seen.map((e) => e.at)) - t0;
}

async function measure(variant: Variant, n: number, sessionRoot: string, allocMb: number): Promise<RunResult> {
  // A fresh profile: time to the QR, then pair it for the restored start below.
  const fresh = await startAll(variant, sessionRoot, n);
  let qrMs: number;
  try {
    qrMs = await allReached(fresh.instances, WorkerEvent.QR, fresh.t0);
    await Promise.all(fresh.instances.map((i) => i.scan()));
    await allReached(fresh.instances, WorkerEvent.READY, fresh.t0);
  } finally {
    await stopAll(fresh.instances, fresh.spare);
  }

  const restored = await startAll(variant, sessionRoot, n);
  try {
    const readyMs = await allReached(restored.instances, WorkerEvent.READY, restored.t0);
    if (restored.instances.some((i) => i.log.count(WorkerEvent.QR) > 0)) throw new Error('a paired profile showed a QR: session not restored');
    await sleep(SETTLE_AFTER_READY_MS);
    const afterReady = await sampleSettled(restored.instances);
    await Promise.all(restored.instances.map((i) => i.allocMb(allocMb)));
    await sleep(SETTLE_AFTER_ALLOC_MS);
    const afterAlloc = await sampleSettled(restored.instances);
    return { qrMs, readyMs, afterReady, afterAlloc };
  } finally {
    await stopAll(restored.instances, restored.spare);
  }
}

const MIB = 1024 * 1024;
function describeRun(r: RunResult): string {
  const total = (m: InstanceMemory) => Math.round((m.nodePss + m.browserPss) / MIB);
  const anon = (m: InstanceMemory) => Math.round((m.nodeAnon + m.browserAnon) / MIB);
  return (
    `qr ${(r.qrMs / 1000).toFixed(1)} s, ready ${(r.readyMs / 1000).toFixed(1)} s, ` +
    `PSS/instance ${total(r.afterReady)} → ${total(r.afterAlloc)} MiB, anon ${anon(r.afterReady)} → ${anon(r.afterAlloc)} MiB`
  );
}

async function main(): Promise<void> {
  const { runs, allocMb, from } = options();
  const built = from === 'built' ? builtEntries() : null;
  const all = variants(built ?? {});
  const marker = markChildrenOfThisRun();
  const workDir = mkdtempSync(join(tmpdir(), 'wa-fleet-bench-'));
  // Workers running as WORKER_USER pass through it to their session roots (which become theirs).
  chmodSync(workDir, 0o711);
  let cleaning: Promise<void> | null = null;
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      const survivors = await killProcessesOfRun(marker);
      rmSync(workDir, { recursive: true, force: true });
      built?.remove();
      if (survivors.length > 0) progress(`could not kill: ${survivors.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}`);
    })());
  // Workers and plain clients lead their own process groups, so a Ctrl+C reaches this process
  // only. `on`, not `once`: tsx relays the signal a second time, and a second one meeting no
  // listener would end this process in the middle of its clean-up.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      progress(`${signal}: stopping every process of this run`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    const chromiumAtStart = chromiumProcessCount();
    const load = new LoadWatch();
    progress(`${machineFacts(CHROME_PATH, chromiumAtStart).replaceAll('\n', '; ')}; load average ${load.atStart}`);
    const plan = SIZES.flatMap((n) =>
      all.map((variant, index) => ({ variant, index, row: { variant: variant.name, instances: n, runs: [], failedRuns: 0 } as Row })),
    );
    const total = runs * plan.length;
    let done = 0;
    for (let run = 1; run <= runs; run++) {
      for (const { variant, index, row } of plan) {
        if (interrupted) return;
        const sessionRoot = join(workDir, `run${run}-n${row.instances}-${index}`);
        mkdirSync(sessionRoot, { mode: 0o700 });
        const label = `[${++done}/${total}] ${variant.name}, N=${row.instances}, run ${run}`;
        try {
          const result = await measure(variant, row.instances, sessionRoot, allocMb);
          row.runs.push(result);
          progress(`${label}: ${describeRun(result)}`);
        } catch (err) {
          if (interrupted) return;
          row.failedRuns++;
          process.exitCode = 1;
          progress(`${label}: FAILED: ${describeError(err)}`);
          // Whatever that run left behind must not weigh on the next one.
          await killProcessesOfRun(marker);
        } finally {
          rmSync(sessionRoot, { recursive: true, force: true });
        }
      }
    }
    process.stdout.write(`${header(runs, allocMb, from, chromiumAtStart, load)}\n\n${markdownTable(plan.map((p) => p.row), allocMb)}\n${spareReport()}\nChromium flags:\n${flagsReport(all)}\n`);
  } finally {
    await cleanUp();
  }
}

await main();
