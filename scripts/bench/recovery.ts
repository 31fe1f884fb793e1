/**
 * How fast one linked instance comes back after its Chromium or its worker is SIGKILLed, next to
 * how long a cold start with the saved session takes, all in the same run on the same machine:
 * detection latency (kill → the DISCONNECTED `connection.update`) and time back (kill →
 * CONNECTED), median and max. Target: back to CONNECTED within a cold start + 0.5 s, without a QR.
 * Demo mode (fake WhatsApp Web) with real workers and Chromium; a throwaway database on MYSQL_URL.
 *
 * Run: npx tsx scripts/bench/recovery.ts [--kills 5] [--base-delay-ms 100] [--settle-ms 3000]
 *
 * Each round is a cold start, a Chromium kill and a worker kill, so load from anything else on
 * the machine (it is shared) falls on the three alike and the cold start is measured under the
 * same load as the recoveries it is compared with. The reconnect delay is added to every time back: the bench uses a small base delay with
 * no jitter (the default base of 2 s would add 2 s to each), and says which in its output.
 */
import { parseArgs } from 'node:util';
import { sleep } from '../../lib/timeout.js';
import { listEvents } from '../../src/db/events.js';
import type { InstanceLive } from '../../src/supervisor/instance/handle.js';
import { createLinked, SESSION_PERSIST_MS } from '../../tests/support/fleet.js';
import { CHROME_PATH, runFleetBench, type FleetBenchRun, type RunningFleet } from './support/fleet-run.js';
import { describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { median } from './support/report.js';
import { DASH, max, millis, renderTable, seconds } from './support/table.js';

const INSTANCE_ID = 'recovery';
/** Generous bounds: the machine may be shared with other test suites. */
const DETECT_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 90_000;
/** The target: back to CONNECTED within a cold start plus this. */
const TARGET_MARGIN_MS = 500;
/** Between the graceful stop and the cold start: the old browser's exit must not weigh on the new one. */
const STOPPED_PAUSE_MS = 1_000;
/** CONNECTED for this long before the next disturbance: the page's post-ready work and the CPU calm down. */
const DEFAULT_SETTLE_MS = Math.max(SESSION_PERSIST_MS, 3_000);

interface Options {
  kills: number;
  baseDelayMs: number;
  settleMs: number;
}

function wholeNumber(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '5' },
      'base-delay-ms': { type: 'string', default: '100' },
      'settle-ms': { type: 'string', default: String(DEFAULT_SETTLE_MS) },
    },
    strict: true,
  });
  return {
    kills: wholeNumber('kills', values.kills, 1),
    baseDelayMs: wholeNumber('base-delay-ms', values['base-delay-ms'], 0),
    settleMs: wholeNumber('settle-ms', values['settle-ms'], 0),
  };
}

interface Target {
  name: string;
  pidOf: (live: InstanceLive) => number | null;
}

const TARGETS: readonly Target[] = [
  { name: 'SIGKILL Chromium', pidOf: (live) => live.browserPid },
  { name: 'SIGKILL worker', pidOf: (live) => live.workerPid },
];

/** One attempt: a cold start or a kill. Times from the start call or the kill, in ms; null when not reached. */
interface Attempt {
  /** Kill → DISCONNECTED `connection.update` (its `at`). */
  detectionMs: number | null;
  /** Kill → the crash's `detectedAt` in the DISCONNECTED event row: when the handle saw it, before it stopped the worker. */
  seenMs: number | null;
  backMs: number | null;
  /** The new worker's start alone: INITIALIZING → CONNECTED, the part a cold start and a recovery share. */
  startMs: number | null;
  qrs: number;
  error: string | null;
}

const newAttempt = (): Attempt => ({ detectionMs: null, seenMs: null, backMs: null, startMs: null, qrs: 0, error: null });

interface Case {
  name: string;
  attempts: Attempt[];
}

/**
 * The instance came back with a QR (session lost) or not at all: restart it, and scan if it asks
 * for a QR, so the next attempts measure something. The QR stays counted against the attempt.
 */
async function relink({ fleet, watch }: RunningFleet, why: string): Promise<void> {
  progress(`  ${why}: linking the instance again to go on`);
  const since = Date.now();
  let status = fleet.handle(INSTANCE_ID).live.status;
  if (status !== 'QR_REQUIRED') {
    await fleet.restart(INSTANCE_ID);
    status = (await watch.waitFor(INSTANCE_ID, ['QR_REQUIRED', 'CONNECTED'], since, CONNECT_TIMEOUT_MS)).status;
  }
  if (status === 'QR_REQUIRED') {
    await fleet.simulate(INSTANCE_ID, 'scan');
    await watch.waitFor(INSTANCE_ID, ['CONNECTED'], since, CONNECT_TIMEOUT_MS);
  }
  await sleep(SESSION_PERSIST_MS);
}

/** Waits from `t0` for CONNECTED (or a QR, which means the session is lost); fills in the attempt. */
async function waitBack(running: RunningFleet, t0: number, attempt: Attempt): Promise<void> {
  try {
    const back = await running.watch.waitFor(INSTANCE_ID, ['CONNECTED', 'QR_REQUIRED'], t0, CONNECT_TIMEOUT_MS);
    attempt.qrs = running.watch.qrCount(t0, INSTANCE_ID);
    if (back.status === 'CONNECTED') {
      attempt.backMs = back.at.getTime() - t0;
      // The last start before CONNECTED: a start that failed and was retried counts in `back` only.
      const started = running.watch.updates.findLast((e) => e.instanceId === INSTANCE_ID && e.status === 'INITIALIZING' && e.at.getTime() >= t0 && e.at.getTime() <= back.at.getTime());
      attempt.startMs = started ? back.at.getTime() - started.at.getTime() : null;
    } else attempt.error = 'a QR was shown: the saved session was lost';
  } catch (err) {
    attempt.error = describeError(err);
  }
  if (attempt.error && running.fleet.handle(INSTANCE_ID).live.status !== 'CONNECTED') await relink(running, attempt.error);
}

/** Cold start with the saved session: disable (graceful stop), then enable → CONNECTED. */
async function coldStart(running: RunningFleet): Promise<Attempt> {
  await running.fleet.disable(INSTANCE_ID);
  await sleep(STOPPED_PAUSE_MS);
  const attempt = newAttempt();
  const t0 = Date.now();
  await running.fleet.enable(INSTANCE_ID);
  await waitBack(running, t0, attempt);
  return attempt;
}

/** When the handle saw the crash, from the DISCONNECTED event it recorded for it. */
async function crashSeenAt(run: FleetBenchRun, t0: number): Promise<number | null> {
  const events = await listEvents(run.db.pool, INSTANCE_ID, 20);
  const seen = events
    .filter((e) => e.toStatus === 'DISCONNECTED' && typeof e.data?.detectedAt === 'string')
    .map((e) => new Date(String(e.data!.detectedAt)).getTime())
    .filter((at) => at >= t0);
  return seen.length === 0 ? null : Math.min(...seen);
}

async function kill(run: FleetBenchRun, running: RunningFleet, target: Target): Promise<Attempt> {
  const attempt = newAttempt();
  const pid = target.pidOf(running.fleet.handle(INSTANCE_ID).live);
  if (pid === null) throw new Error(`the instance has no pid to kill for "${target.name}" (status ${running.fleet.handle(INSTANCE_ID).live.status})`);
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  try {
    const down = await running.watch.waitFor(INSTANCE_ID, ['DISCONNECTED'], t0, DETECT_TIMEOUT_MS);
    attempt.detectionMs = down.at.getTime() - t0;
  } catch (err) {
    attempt.error = describeError(err);
  }
  await waitBack(running, t0, attempt);
  const seenAt = await crashSeenAt(run, t0);
  attempt.seenMs = seenAt === null ? null : seenAt - t0;
  return attempt;
}

function describeAttempt(a: Attempt): string {
  const parts = [
    a.detectionMs === null ? null : `detected ${millis(a.detectionMs)} ms (seen ${millis(a.seenMs)} ms)`,
    a.backMs === null ? null : `back ${seconds(a.backMs)} s (start ${seconds(a.startMs)} s)`,
    a.qrs > 0 ? `${a.qrs} QR` : null,
    a.error ? `FAILED: ${a.error}` : null,
  ];
  return parts.filter((p) => p !== null).join(', ');
}

const okValues = (c: Case, pick: (a: Attempt) => number | null): number[] =>
  c.attempts.flatMap((a) => {
    const v = pick(a);
    return a.error === null && v !== null ? [v] : [];
  });

function pair(values: readonly number[], format: (ms: number | null) => string): string {
  return `${format(median(values))} / ${format(max(values))}`;
}

function report(cold: Case, kills: readonly Case[], opts: Options): string {
  const coldMedian = median(okValues(cold, (a) => a.backMs));
  const bound = coldMedian === null ? null : coldMedian + TARGET_MARGIN_MS;
  const verdict = (values: readonly number[]): string => {
    const m = median(values);
    const x = max(values);
    if (bound === null || m === null || x === null) return DASH;
    return `${m <= bound ? 'yes' : 'NO'} / ${x <= bound ? 'yes' : 'NO'}`;
  };
  const row = (c: Case, isCold: boolean): string[] => {
    const back = okValues(c, (a) => a.backMs);
    return [
      c.name,
      `${back.length}/${c.attempts.length}`,
      String(c.attempts.reduce((sum, a) => sum + a.qrs, 0)),
      isCold ? DASH : pair(okValues(c, (a) => a.detectionMs), millis),
      isCold ? DASH : pair(okValues(c, (a) => a.seenMs), millis),
      pair(back, seconds),
      pair(okValues(c, (a) => a.startMs), seconds),
      seconds(coldMedian),
      isCold ? DASH : verdict(back),
    ];
  };
  const header = [
    'case',
    'ok',
    'QR shown',
    'detection: kill → DISCONNECTED update, median / max (ms)',
    'crash seen by the handle (event detectedAt), median / max (ms)',
    'back to CONNECTED, median / max (s)',
    'of which the start: INITIALIZING → CONNECTED, median / max (s)',
    'cold start, median (s)',
    `back ≤ cold start + ${TARGET_MARGIN_MS / 1000} s (median / max)`,
  ];
  return [
    renderTable(header, [row(cold, true), ...kills.map((c) => row(c, false))], 1),
    '',
    `Fleet reconnect settings: RECONNECT_BASE_DELAY_MS=${opts.baseDelayMs}, RECONNECT_JITTER_MS=0 (default base 2000 ms + jitter up to 1000 ms would add that much to every "back" time).`,
    'Cold start: disable (graceful stop), then enable of the same linked instance; enable call → CONNECTED `connection.update`.',
    `${opts.kills} rounds of cold start, Chromium kill, worker kill, one at a time, ${opts.settleMs} ms of CONNECTED after each; kill times run from the kill to the \`at\` of the fleet's \`connection.update\`.`,
    'The DISCONNECTED update is emitted after the handle has stopped what is left of the worker, so it trails the moment the crash was seen (detectedAt).',
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const load = new LoadWatch();
  await runFleetBench('recovery', async (run) => {
    const machine = machineFacts(CHROME_PATH, run.chromiumAtStart);
    progress(machine.replaceAll('\n', '; '));
    progress(`load average at start ${load.atStart}`);
    const running = await run.startFleet({ RECONNECT_BASE_DELAY_MS: String(opts.baseDelayMs), RECONNECT_JITTER_MS: '0' });
    progress('linking one instance');
    await createLinked(running.fleet, INSTANCE_ID);

    await sleep(opts.settleMs);

    const cold: Case = { name: 'cold start, saved session', attempts: [] };
    const cases: Case[] = TARGETS.map((t) => ({ name: t.name, attempts: [] }));
    for (let i = 1; i <= opts.kills; i++) {
      const started = await coldStart(running);
      cold.attempts.push(started);
      progress(`[${i}/${opts.kills} cold start] ${describeAttempt(started)}`);
      await sleep(opts.settleMs);
      for (const [k, target] of TARGETS.entries()) {
        const attempt = await kill(run, running, target);
        cases[k]!.attempts.push(attempt);
        progress(`[${i}/${opts.kills} ${target.name}] ${describeAttempt(attempt)}`);
        await sleep(opts.settleMs);
      }
    }
    await run.stopFleet(running);

    const failed = [cold, ...cases].some((c) => c.attempts.some((a) => a.error !== null));
    if (failed) process.exitCode = 1;
    process.stdout.write(`${machine}\nLoad: ${load.summary()}\n\n${report(cold, cases, opts)}\n`);
  });
}

await main();
