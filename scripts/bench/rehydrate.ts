/**
 * What REHYDRATE_CONCURRENCY to boot with: N instances with saved sessions, booted by a fresh
 * Fleet at concurrency 1, 2, 4 and all at once, each printed with the time until all are
 * CONNECTED, the failures (not CONNECTED within the bound, or a QR shown), the starts that
 * failed and were retried, and the peak memory of the whole boot. Demo mode (fake WhatsApp Web)
 * with real workers and Chromium; a throwaway database on MYSQL_URL.
 *
 * Run: npx tsx scripts/bench/rehydrate.ts [--instances 8] [--staggers 2000,0] [--runs 1] [--bound-ms 120000]
 *
 * With `--runs` above 1 every row is booted that many times, the order of the rows reversed on
 * every other run so that a load that grows or fades during the bench falls on all rows alike,
 * and each row shows medians.
 *
 * Every setting that shapes a boot (start and load timeouts, reconnect delays) is the product's
 * default, not the test suite's short one: a boot that times out in production must time out
 * here too. Peak memory: PSS of the bench (which is the supervisor), every worker and every
 * Chromium tree, summed, sampled every `--sample-ms`, the largest sum seen.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { sampleTree } from '../../lib/proc-memory.js';
import { sleep } from '../../lib/timeout.js';
import { SETTINGS, type SettingName } from '../../src/config/index.js';
import { createLinked } from '../../tests/support/fleet.js';
import { CHROME_PATH, runFleetBench, type FleetBenchRun, type RunningFleet } from './support/fleet-run.js';
import { describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { PeakMemory } from './support/peak-memory.js';
import { median } from './support/report.js';
import { DASH, max, mebibytes, renderTable, seconds } from './support/table.js';

/** Boot settings kept at the product's defaults (the test config shortens them). */
const PRODUCT_SETTINGS: readonly SettingName[] = [
  'WEB_LOAD_TIMEOUT_MS',
  'WORKER_START_TIMEOUT_MS',
  'WORKER_STOP_TIMEOUT_MS',
  'RECONNECT_BASE_DELAY_MS',
  'RECONNECT_JITTER_MS',
];
const DEFAULT_STAGGER_MS = Number(SETTINGS.REHYDRATE_STAGGER_MS.default);
/** Quiet time between two boots, so the previous fleet's exits do not weigh on the next one. */
const BETWEEN_ROUNDS_MS = 3_000;
/** Rows within this fraction of the fastest count as equally fast; the lowest concurrency of them is favoured. */
const TIE_FRACTION = 0.05;

interface Options {
  instances: number;
  staggers: number[];
  concurrencies: number[];
  runs: number;
  boundMs: number;
  sampleMs: number;
}

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must hold whole numbers >= ${min}, got ${text}`);
  return value;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '8' },
      staggers: { type: 'string', default: `${DEFAULT_STAGGER_MS},0` },
      concurrencies: { type: 'string', default: '1,2,4,all' },
      runs: { type: 'string', default: '1' },
      'bound-ms': { type: 'string', default: '120000' },
      'sample-ms': { type: 'string', default: '250' },
    },
    strict: true,
  });
  const instances = wholeNumber('instances', values.instances, 1);
  const list = (name: string, text: string, min: number) => text.split(',').map((t) => wholeNumber(name, t.trim(), min));
  const concurrencies = values.concurrencies.split(',').map((t) => (t.trim() === 'all' ? instances : wholeNumber('concurrencies', t.trim(), 1)));
  return {
    instances,
    staggers: list('staggers', values.staggers, 0),
    concurrencies: [...new Set(concurrencies.map((c) => Math.min(c, instances)))],
    runs: wholeNumber('runs', values.runs, 1),
    boundMs: wholeNumber('bound-ms', values['bound-ms'], 1_000),
    sampleMs: wholeNumber('sample-ms', values['sample-ms'], 50),
  };
}

/** One row of the table: how the fleet is told to boot. */
interface BootSetting {
  staggerMs: number;
  concurrency: number;
}

/** One boot of the N instances. */
interface Round {
  /** The 1-minute load average when the boot began: the machine may be shared. */
  loadAtStart: number;
  /** Fleet start → the last instance CONNECTED; null unless all made it. */
  allConnectedMs: number | null;
  /** Fleet start → the first instance CONNECTED. */
  firstConnectedMs: number | null;
  /** Each instance's own start, INITIALIZING → CONNECTED: grows when starts crowd the CPU. */
  startMs: number[];
  failed: string[];
  qrs: number;
  retriedStarts: number;
  peakBytes: number;
  peakProcesses: number;
  /** PSS when the last instance was CONNECTED (or at the bound): the boot's burst is the peak above it. */
  endBytes: number;
}

function productDefaults(): Record<string, string> {
  return Object.fromEntries(PRODUCT_SETTINGS.map((name) => [name, SETTINGS[name].default]));
}

/**
 * One at a time: linking is not what this bench measures, and a creation running beside other
 * instances' status writes can still be chosen as a deadlock's victim (support/populate.ts
 * retries those; sessions run READ COMMITTED, so the gap-lock deadlock of two creations is gone).
 */
async function linkInstances(run: FleetBenchRun, ids: readonly string[]): Promise<void> {
  const running = await run.startFleet(productDefaults());
  try {
    for (const [i, id] of ids.entries()) {
      await createLinked(running.fleet, id);
      progress(`linked ${i + 1}/${ids.length}`);
    }
  } finally {
    await run.stopFleet(running);
  }
}

/** How one instance's boot ended: CONNECTED at (epoch ms), or why not. */
async function outcome(running: RunningFleet, id: string, t0: number, boundMs: number): Promise<{ at: number } | { failure: string }> {
  try {
    const e = await running.watch.waitFor(id, ['CONNECTED', 'QR_REQUIRED'], t0, Math.max(1, t0 + boundMs - Date.now()));
    return e.status === 'CONNECTED' ? { at: e.at.getTime() } : { failure: `${id}: QR shown` };
  } catch (err) {
    return { failure: describeError(err) };
  }
}

async function boot(run: FleetBenchRun, ids: readonly string[], { staggerMs, concurrency }: BootSetting, opts: Options): Promise<Round> {
  const loadAtStart = loadavg()[0] ?? 0;
  const memory = new PeakMemory(opts.sampleMs);
  const t0 = Date.now();
  let running: RunningFleet | null = null;
  try {
    running = await run.startFleet({
      ...productDefaults(),
      REHYDRATE_CONCURRENCY: String(concurrency),
      REHYDRATE_STAGGER_MS: String(staggerMs),
    });
    const ends = await Promise.all(ids.map((id) => outcome(running!, id, t0, opts.boundMs)));
    const peak = memory.stop();
    const connectedAt = ends.flatMap((e) => ('at' in e ? [e.at] : []));
    const failed = ends.flatMap((e) => ('failure' in e ? [e.failure] : []));
    const { updates } = running.watch;
    const startMs = ids.flatMap((id) => {
      const mine = updates.filter((u) => u.instanceId === id && u.at.getTime() >= t0);
      const connected = mine.find((u) => u.status === 'CONNECTED');
      const started = connected && mine.findLast((u) => u.status === 'INITIALIZING' && u.at.getTime() <= connected.at.getTime());
      return connected && started ? [connected.at.getTime() - started.at.getTime()] : [];
    });
    return {
      loadAtStart,
      allConnectedMs: failed.length === 0 ? Math.max(...connectedAt) - t0 : null,
      firstConnectedMs: connectedAt.length === 0 ? null : Math.min(...connectedAt) - t0,
      startMs,
      failed,
      qrs: running.watch.qrCount(t0),
      retriedStarts: updates.filter((u) => u.status === 'DISCONNECTED' && u.at.getTime() >= t0).length,
      peakBytes: peak.peakBytes,
      peakProcesses: peak.peakProcesses,
      endBytes: peak.lastBytes,
    };
  } finally {
    memory.stop();
    if (running) await run.stopFleet(running);
  }
}

function describeRound(r: Round): string {
  return (
    `all CONNECTED ${seconds(r.allConnectedMs)} s (first ${seconds(r.firstConnectedMs)} s, start median ${seconds(median(r.startMs))} s), ` +
    `peak PSS ${mebibytes(r.peakBytes)} MiB in ${r.peakProcesses} processes (${mebibytes(r.endBytes)} MiB when all CONNECTED), ` +
    `retried starts ${r.retriedStarts}, QRs ${r.qrs}, load at start ${r.loadAtStart.toFixed(1)}` +
    (r.failed.length > 0 ? `, FAILED: ${r.failed.join('; ')}` : '')
  );
}

interface Row {
  setting: BootSetting;
  rounds: Round[];
}

const isClean = (r: Round): boolean => r.failed.length === 0 && r.allConnectedMs !== null;
/** Median time until all were CONNECTED, over the boots where all were; null when any boot of the row failed. */
const rowTime = (row: Row): number | null => (row.rounds.every(isClean) ? median(row.rounds.map((r) => r.allConnectedMs!)) : null);

/** The fastest row without failures; among those within TIE_FRACTION of it, the lowest concurrency (the smaller burst). */
function favoured(rows: readonly Row[]): Row | null {
  const clean = rows.flatMap((row) => {
    const time = rowTime(row);
    return time === null ? [] : [{ row, time }];
  });
  if (clean.length === 0) return null;
  const fastest = Math.min(...clean.map((c) => c.time));
  return clean.filter((c) => c.time <= fastest * (1 + TIE_FRACTION)).sort((a, b) => a.row.setting.concurrency - b.row.setting.concurrency)[0]!.row;
}

function report(rows: readonly Row[], opts: Options, benchAloneBytes: number): string {
  const header = [
    'stagger (ms)',
    'REHYDRATE_CONCURRENCY',
    'boots ok',
    'all CONNECTED, median / max (s)',
    'first CONNECTED, median (s)',
    'one start, INITIALIZING → CONNECTED, median / max (s)',
    'failures',
    'QR shown',
    'failed starts retried',
    'peak PSS, total (MiB)',
    'PSS when all CONNECTED (MiB)',
    'processes at the peak',
    'load (1 min) at boot',
  ];
  const table = rows.map(({ setting, rounds }) => {
    const clean = rounds.filter(isClean);
    const all = clean.map((r) => r.allConnectedMs!);
    const starts = rounds.flatMap((r) => r.startMs);
    const firsts = rounds.flatMap((r) => (r.firstConnectedMs === null ? [] : [r.firstConnectedMs]));
    const sum = (pick: (r: Round) => number) => String(rounds.reduce((total, r) => total + pick(r), 0));
    return [
      String(setting.staggerMs),
      setting.concurrency === opts.instances ? `${setting.concurrency} (all)` : String(setting.concurrency),
      `${clean.length}/${rounds.length}`,
      `${seconds(median(all))} / ${seconds(max(all))}`,
      seconds(median(firsts)),
      starts.length === 0 ? DASH : `${seconds(median(starts))} / ${seconds(max(starts))}`,
      sum((r) => r.failed.length),
      sum((r) => r.qrs),
      sum((r) => r.retriedStarts),
      mebibytes(median(rounds.map((r) => r.peakBytes))),
      mebibytes(median(rounds.map((r) => r.endBytes))),
      String(median(rounds.map((r) => r.peakProcesses))),
      (median(rounds.map((r) => r.loadAtStart)) ?? 0).toFixed(1),
    ];
  });
  const verdicts = opts.staggers.map((stagger) => {
    const best = favoured(rows.filter((r) => r.setting.staggerMs === stagger));
    return best
      ? `With a stagger of ${stagger} ms the table favours REHYDRATE_CONCURRENCY=${best.setting.concurrency}.`
      : `With a stagger of ${stagger} ms no concurrency booted every instance.`;
  });
  return [
    renderTable(header, table, 2),
    '',
    ...verdicts,
    `Favoured: the fastest row (median) with no failure; rows within ${TIE_FRACTION * 100} % of it count as equal and the lowest concurrency of them wins (a smaller burst of Chromium starts).`,
    `${opts.instances} instances with saved sessions; ${opts.runs} boot(s) per row; times from \`fleet.start()\` to the \`connection.update\` events.`,
    `Failure: not CONNECTED within ${opts.boundMs / 1000} s of the boot, or a QR shown. "Failed starts retried": DISCONNECTED updates during the boot (a start that failed and was retried per the reconnect policy).`,
    `Peak PSS: the bench process (the supervisor: ${mebibytes(benchAloneBytes)} MiB before any worker), every worker and every Chromium process, summed, sampled every ${opts.sampleMs} ms; the largest sum.`,
    `Product defaults for ${PRODUCT_SETTINGS.join(', ')}; the default REHYDRATE_STAGGER_MS is ${DEFAULT_STAGGER_MS} ms.`,
    "PSS divides shared pages among all their sharers, including other programs' Chromium: compare rows of one run, not across machines.",
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const load = new LoadWatch();
  await runFleetBench('rehydrate', async (run) => {
    const machine = machineFacts(CHROME_PATH, run.chromiumAtStart);
    progress(machine.replaceAll('\n', '; '));
    progress(`load average at start ${load.atStart}`);
    const ids = Array.from({ length: opts.instances }, (_, i) => `boot-${String(i + 1).padStart(2, '0')}`);
    progress(`linking ${ids.length} instances`);
    await linkInstances(run, ids);
    const benchAloneBytes = sampleTree(process.pid).pssBytes;

    const rows: Row[] = opts.staggers.flatMap((staggerMs) => opts.concurrencies.map((concurrency) => ({ setting: { staggerMs, concurrency }, rounds: [] })));
    const total = rows.length * opts.runs;
    let done = 0;
    for (let i = 0; i < opts.runs; i++) {
      for (const row of i % 2 === 0 ? rows : [...rows].reverse()) {
        await sleep(BETWEEN_ROUNDS_MS);
        const round = await boot(run, ids, row.setting, opts);
        row.rounds.push(round);
        progress(`[${++done}/${total}] stagger ${row.setting.staggerMs} ms, concurrency ${row.setting.concurrency}: ${describeRound(round)}`);
      }
    }
    if (rows.some((r) => !r.rounds.every(isClean))) process.exitCode = 1;
    process.stdout.write(`${machine}\nLoad: ${load.summary()}\n\n${report(rows, opts, benchAloneBytes)}\n`);
  });
}

await main();
