/**
 * How fast one linked instance comes back, at the product's default settings, after its Chromium
 * or its worker is SIGKILLed, its page freezes, or its worker is SIGSTOPped, next to how long a
 * cold start with the saved session takes, all in the same run on the same machine: detection
 * (a kill: → the DISCONNECTED `connection.update`; a freeze or a stop: → the `zombie` verdict of
 * the health loop) and time back (fault → CONNECTED), median and max. Targets: a kill is back
 * within a cold start + 0.5 s; a freeze or stop within its detection + a cold start + 1 s; no QR.
 * Demo mode (fake WhatsApp Web) with real workers and Chromium; a throwaway database on MYSQL_URL.
 *
 * Run: npm run bench:recovery -- [--rounds 5] [--settle-ms 12000] [--faults kills,hangs]
 *
 * Each round is a cold start and then each fault once, so load from anything else on the machine
 * (it is shared) falls on all alike and the cold start is measured under the same load as the
 * recoveries it is compared with. Every reconnect, stop and check-loop setting is the product's
 * default (the test defaults the fleet helper would apply are put back); the instance stays
 * CONNECTED `--settle-ms` before each fault, past the 10 s that make a connection steady.
 */
import { parseArgs } from 'node:util';
import { sleep } from '../../lib/timeout.js';
import { SETTINGS, type SettingName } from '../../src/config/settings.js';
import type { InstanceLive } from '../../src/supervisor/instance/handle.js';
import { STEADY_CONNECTION_MS } from '../../src/supervisor/reconnect-policy.js';
import { createLinked, SESSION_PERSIST_MS } from '../../tests/support/fleet.js';
import { CHROME_PATH, runFleetBench, type FleetBenchRun, type RunningFleet } from './support/fleet-run.js';
import { describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { median } from './support/report.js';
import { DASH, max, millis, renderTable, seconds } from './support/table.js';

const INSTANCE_ID = 'recovery';
/** Generous bounds: the machine may be shared, and a hang is found by the health loop (30 s a tick by default). */
const DETECT_TIMEOUT_MS = 180_000;
const CONNECT_TIMEOUT_MS = 240_000;
/** The targets: a kill is back within a cold start plus 0.5 s; a hang within its detection, a cold start and 1 s. */
const KILL_MARGIN_MS = 500;
const HANG_MARGIN_MS = 1_000;
/** Between the graceful stop and the cold start: the old browser's exit must not weigh on the new one. */
const STOPPED_PAUSE_MS = 1_000;

/** The settings the fleet helper shortens for tests, put back to the product's defaults. */
const AT_DEFAULTS: readonly SettingName[] = [
  'RECONNECT_BASE_DELAY_MS',
  'RECONNECT_FIRST_DELAY_MS',
  'RECONNECT_JITTER_MS',
  'REHYDRATE_STAGGER_MS',
  'WORKER_STOP_TIMEOUT_MS',
  'WORKER_START_TIMEOUT_MS',
  'WEB_LOAD_TIMEOUT_MS',
];
const defaults = (): Record<string, string> => Object.fromEntries(AT_DEFAULTS.map((name) => [name, SETTINGS[name].default]));

type FaultGroup = 'kills' | 'hangs';

interface Options {
  rounds: number;
  settleMs: number;
  groups: FaultGroup[];
}

function wholeNumber(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      'settle-ms': { type: 'string', default: String(STEADY_CONNECTION_MS + 2_000) },
      faults: { type: 'string', default: 'kills,hangs' },
    },
    strict: true,
  });
  const groups = values.faults.split(',').map((g) => g.trim());
  if (groups.length === 0 || groups.some((g) => g !== 'kills' && g !== 'hangs')) throw new Error(`--faults must list kills and/or hangs, got ${values.faults}`);
  return {
    rounds: wholeNumber('rounds', values.rounds, 1),
    settleMs: wholeNumber('settle-ms', values['settle-ms'], 0),
    groups: groups as FaultGroup[],
  };
}

interface Fault {
  name: string;
  group: FaultGroup;
  /** Hits the instance; returns what to undo once it is back (a stopped worker left running). */
  hit: (running: RunningFleet, live: InstanceLive) => Promise<(() => void) | void>;
}

function signal(pid: number | null, what: string, sig: NodeJS.Signals): void {
  if (pid === null) throw new Error(`the instance has no ${what} pid to send ${sig} to`);
  process.kill(pid, sig);
}

const FAULTS: readonly Fault[] = [
  { name: 'SIGKILL Chromium', group: 'kills', hit: async (_r, live) => signal(live.browserPid, 'browser', 'SIGKILL') },
  { name: 'SIGKILL worker', group: 'kills', hit: async (_r, live) => signal(live.workerPid, 'worker', 'SIGKILL') },
  { name: 'page freeze', group: 'hangs', hit: async (r) => void (await r.fleet.simulate(INSTANCE_ID, 'freeze')) },
  {
    name: 'SIGSTOP worker',
    group: 'hangs',
    hit: async (_r, live) => {
      const pid = live.workerPid;
      signal(pid, 'worker', 'SIGSTOP');
      // The hard restart kills the stopped worker's group; if it is still there, let it go.
      return () => {
        try {
          process.kill(pid!, 'SIGCONT');
        } catch {
          /* gone, as it should be */
        }
      };
    },
  },
];

/** One attempt: a cold start or a fault. Times from the start call or the fault, in ms; null when not reached. */
interface Attempt {
  /** A kill: → DISCONNECTED `connection.update`. A hang: → the `zombie` verdict. */
  detectionMs: number | null;
  backMs: number | null;
  /** The new worker's start alone: INITIALIZING → CONNECTED, the part a cold start and a recovery share. */
  startMs: number | null;
  qrs: number;
  error: string | null;
}

const newAttempt = (): Attempt => ({ detectionMs: null, backMs: null, startMs: null, qrs: 0, error: null });

interface Case {
  name: string;
  group: FaultGroup | 'cold';
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

/** Waits from `t0` for CONNECTED after `after` (or a QR, which means the session is lost); fills in the attempt. */
async function waitBack(running: RunningFleet, t0: number, attempt: Attempt, after = t0): Promise<void> {
  try {
    const back = await running.watch.waitFor(INSTANCE_ID, ['CONNECTED', 'QR_REQUIRED'], after, CONNECT_TIMEOUT_MS);
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

/** The first `zombie` verdict of the instance at or after `since`, as the health loop announced it. */
function zombieVerdict(running: RunningFleet, since: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`no zombie verdict within ${DETECT_TIMEOUT_MS / 1000} s`))), DETECT_TIMEOUT_MS);
    const off = running.fleet.events.on('instance.health', (e) => {
      if (e.instanceId !== INSTANCE_ID || e.health !== 'zombie' || e.at.getTime() < since) return;
      clearTimeout(timer);
      off();
      resolve(e.at.getTime());
    });
  });
}

async function hit(running: RunningFleet, fault: Fault): Promise<Attempt> {
  const attempt = newAttempt();
  const t0 = Date.now();
  const zombie = fault.group === 'hangs' ? zombieVerdict(running, t0) : null;
  zombie?.catch(() => undefined);
  const undo = await fault.hit(running, running.fleet.handle(INSTANCE_ID).live);
  let detectedAt = t0;
  try {
    detectedAt = zombie ? await zombie : (await running.watch.waitFor(INSTANCE_ID, ['DISCONNECTED'], t0, DETECT_TIMEOUT_MS)).at.getTime();
    attempt.detectionMs = detectedAt - t0;
  } catch (err) {
    attempt.error = describeError(err);
  }
  // A hang's page stays CONNECTED until it is found: back means CONNECTED again after that.
  await waitBack(running, t0, attempt, detectedAt + 1);
  undo?.();
  return attempt;
}

function describeAttempt(a: Attempt): string {
  const parts = [
    a.detectionMs === null ? null : `detected ${millis(a.detectionMs)} ms`,
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

/** The bound a case's median must meet: a kill, the cold start + 0.5 s; a hang, its median detection + the cold start + 1 s. */
function targetMs(c: Case, coldMedianMs: number | null): number | null {
  if (coldMedianMs === null || c.group === 'cold') return null;
  if (c.group === 'kills') return coldMedianMs + KILL_MARGIN_MS;
  const detection = median(okValues(c, (a) => a.detectionMs));
  return detection === null ? null : detection + coldMedianMs + HANG_MARGIN_MS;
}

function report(cold: Case, faults: readonly Case[], opts: Options): { text: string; met: boolean } {
  const coldMedian = median(okValues(cold, (a) => a.backMs));
  let met = true;
  const row = (c: Case): string[] => {
    const back = okValues(c, (a) => a.backMs);
    const bound = targetMs(c, coldMedian);
    const m = median(back);
    const ok = bound !== null && m !== null && m <= bound;
    if (c.group !== 'cold' && !ok) met = false;
    return [
      c.name,
      `${back.length}/${c.attempts.length}`,
      String(c.attempts.reduce((sum, a) => sum + a.qrs, 0)),
      c.group === 'cold' ? DASH : pair(okValues(c, (a) => a.detectionMs), seconds),
      pair(back, seconds),
      pair(okValues(c, (a) => a.startMs), seconds),
      c.group === 'cold' ? DASH : `${seconds(bound)} ${ok ? 'yes' : 'NO'}`,
    ];
  };
  const header = [
    'case',
    'ok',
    'QR shown',
    'detection, median / max (s)',
    'fault → CONNECTED, median / max (s)',
    'of which the start: INITIALIZING → CONNECTED, median / max (s)',
    'median within target (s)',
  ];
  const settings = AT_DEFAULTS.map((n) => `${n}=${SETTINGS[n].default}`).join(' ');
  const text = [
    renderTable(header, [row(cold), ...faults.map(row)], 1),
    '',
    `Settings: product defaults (${settings}; check loops at their defaults: health every ${Number(SETTINGS.HEALTH_CHECK_INTERVAL_MS.default) / 1000} s, zombie after ${SETTINGS.ZOMBIE_PING_FAILURES.default} failed pings).`,
    'Cold start: disable (graceful stop), then enable of the same linked instance; enable call → CONNECTED `connection.update`.',
    'Detection: a kill, fault → DISCONNECTED `connection.update`; a hang (page freeze, worker SIGSTOP), fault → the health loop\'s `zombie` verdict.',
    `Targets: a kill back within the cold start's median + ${KILL_MARGIN_MS / 1000} s; a hang within its median detection + the cold start's median + ${HANG_MARGIN_MS / 1000} s.`,
    `${opts.rounds} rounds of a cold start and each fault once, one at a time, ${opts.settleMs} ms of CONNECTED before each.`,
  ].join('\n');
  return { text, met };
}

async function main(): Promise<void> {
  const opts = options();
  const load = new LoadWatch();
  await runFleetBench('recovery', async (run: FleetBenchRun) => {
    const machine = machineFacts(CHROME_PATH, run.chromiumAtStart);
    progress(machine.replaceAll('\n', '; '));
    progress(`load average at start ${load.atStart}`);
    const running = await run.startFleet(defaults(), { checks: opts.groups.includes('hangs') });
    progress('linking one instance');
    await createLinked(running.fleet, INSTANCE_ID);
    await sleep(opts.settleMs);

    const cold: Case = { name: 'cold start, saved session', group: 'cold', attempts: [] };
    const faults = FAULTS.filter((f) => opts.groups.includes(f.group));
    const cases: Case[] = faults.map((f) => ({ name: f.name, group: f.group, attempts: [] }));
    for (let i = 1; i <= opts.rounds; i++) {
      const started = await coldStart(running);
      cold.attempts.push(started);
      progress(`[${i}/${opts.rounds} cold start] ${describeAttempt(started)}`);
      await sleep(opts.settleMs);
      for (const [k, fault] of faults.entries()) {
        const attempt = await hit(running, fault);
        cases[k]!.attempts.push(attempt);
        progress(`[${i}/${opts.rounds} ${fault.name}] ${describeAttempt(attempt)}`);
        await sleep(opts.settleMs);
      }
    }
    await run.stopFleet(running);

    const failed = [cold, ...cases].some((c) => c.attempts.some((a) => a.error !== null || a.qrs > 0));
    const { text, met } = report(cold, cases, opts);
    if (failed || !met) process.exitCode = 1;
    process.stdout.write(`${machine}\nLoad: ${load.summary()}\n\n${text}\n`);
  });
}

await main();
