/** The scale bench's tables and verdicts. Pure: no I/O here. */
import { SETTINGS, type SettingName } from '../../../src/config/index.js';
import { verdictTable, type Verdict } from '../admission.js';
import { median } from './report.js';
import { routeTable, type RouteRow } from './route-report.js';
import type { RunEnd } from './scale-run.js';
import type { EventLoopLag } from './event-loop-lag.js';
import type { LoopTicks } from './scale-loops.js';
import type { CpuUse } from './scale-processes.js';
import type { StatusChange } from './scale-fleet.js';
import { DASH, max, mebibytes, millis, renderTable, seconds } from './table.js';

/** Each check loop's interval setting, at whose default the supervisor runs. */
const LOOP_INTERVALS: Record<string, SettingName> = {
  health: 'HEALTH_CHECK_INTERVAL_MS',
  deep: 'DEEP_CHECK_INTERVAL_MS',
  recovery: 'RECOVERY_INTERVAL_MS',
  memory: 'MEMORY_CHECK_INTERVAL_MS',
  memorySample: 'MEMORY_SAMPLE_INTERVAL_MS',
};

/** The idle steady state, passive: nothing but light polls of the API while it is measured. */
export interface IdleResult {
  instances: number;
  windowMs: number;
  /** PSS of every process of the run, and of the supervisor alone, sampled through the window. */
  totalBytes: number[];
  supervisorBytes: number[];
  processes: number[];
  supervisorCpu: CpuUse;
  totalCpu: CpuUse;
  loops: LoopTicks[];
  /** The supervisor's event-loop lag over the window (its /metrics); null when it could not be read. */
  eventLoopLag: EventLoopLag | null;
  /** Status changes recorded during the window: a steady fleet makes none. */
  changes: StatusChange[];
  /** Instances not CONNECTED when the window opened or closed, with their status. */
  notConnected: string[];
}

/** The boot after the SIGKILL, timed from the kill. */
export interface BootResult {
  instances: number;
  boundMs: number;
  loadAtKill: number;
  /** Kill → the new supervisor answers `/healthz`. */
  apiUpMs: number;
  /** Kill → each instance's first CONNECTED within the bound. */
  connectedMs: number[];
  /** Each instance's last start before it was CONNECTED: INITIALIZING → CONNECTED. */
  startMs: number[];
  /** Not CONNECTED within the bound, with the status last seen. */
  failed: string[];
  /** Instances that showed a QR (QR_REQUIRED recorded after the kill). */
  qrShown: string[];
  /** DISCONNECTED updates after the kill: starts that failed and were tried again. */
  retriedStarts: number;
  peakBytes: number;
  processesAtPeak: number;
  /** The killed supervisor's workers, browsers and crashpad handlers: at the kill, when the new supervisor answered, after the boot. */
  killedLife: { atKill: number; atApiUp: number; afterBoot: string[] };
}

export interface ReportFacts {
  command: string;
  commit: string;
  machine: string;
  load: string;
  settings: Record<string, string>;
  cores: number;
}

const percentOfCore = (cpu: CpuUse, windowMs: number): string => ((cpu.seconds / (windowMs / 1000)) * 100).toFixed(1);
const pair = (values: readonly number[], format: (v: number | null) => string): string => `${format(median(values))} / ${format(max(values))}`;

function perInstanceBytes(idle: IdleResult): number[] {
  return idle.totalBytes.map((total, i) => (total - (idle.supervisorBytes[i] ?? 0)) / idle.instances);
}

/** Ours, then the context rows: other people's figures on the real site, not measured here. */
function idleTable(idle: IdleResult): string {
  const header = ['fleet', 'measured', 'instances', 'total PSS, median / max (MiB)', 'per instance (MiB)', 'supervisor PSS (MiB)', 'supervisor CPU (% of a core)', 'total CPU (% of a core)'];
  return renderTable(
    header,
    [
      [
        'wa-fleet, demo mode (fake WhatsApp Web)',
        `here, ${Math.round(idle.windowMs / 1000)} s idle`,
        String(idle.instances),
        pair(idle.totalBytes, mebibytes),
        mebibytes(median(perInstanceBytes(idle))),
        mebibytes(median(idle.supervisorBytes)),
        percentOfCore(idle.supervisorCpu, idle.windowMs),
        percentOfCore(idle.totalCpu, idle.windowMs),
      ],
      ['*context:* WAHA, WEBJS engine', 'elsewhere, on real WhatsApp Web; WAHA: "not safe beyond" 50', '50', '≈ 20 GB', '≈ 400 MB', DASH, DASH, '≈ 15 CPUs (≈ 1500 %)'],
      ['*context:* whatsapp-web.js users', "elsewhere, on real WhatsApp Web (users' reports)", '30; 71', '≈ 8 GB for 30; 71 on a 128 GB machine', '≈ 270 MB (30)', DASH, DASH, DASH],
    ],
    2,
  );
}

const intervalOf = (loop: string): number | null => {
  const setting = LOOP_INTERVALS[loop];
  return setting ? Number(SETTINGS[setting].default) : null;
};

/** Ticks a cron-aligned loop must have started within the window: at least one per whole interval. */
const expectedTicks = (loop: string, windowMs: number): number => {
  const interval = intervalOf(loop);
  return interval === null ? 0 : Math.floor(windowMs / interval);
};

function loopTable(idle: IdleResult): string {
  const header = ['loop', 'interval (default, s)', 'ticks in the window (at least)', 'tick duration, median / max (ms)', 'ticks timed', 'skips', 'errors'];
  return renderTable(
    header,
    idle.loops.map((l) => {
      const interval = intervalOf(l.name);
      return [
        l.name,
        interval === null ? DASH : String(interval / 1000),
        `${l.runs} (${expectedTicks(l.name, idle.windowMs)})`,
        l.durationsMs.length === 0 ? DASH : pair(l.durationsMs, millis),
        String(l.durationsMs.length),
        String(l.skips),
        String(l.errors),
      ];
    }),
    1,
  );
}

/** Kill → all CONNECTED of one boot; null when one instance did not come back. */
const allBack = (boot: BootResult): number | null => (boot.failed.length === 0 ? max(boot.connectedMs) : null);

function bootTable(boots: readonly BootResult[]): string {
  const header = [
    'boot',
    'instances',
    'kill → API answers (s)',
    'kill → first CONNECTED (s)',
    'kill → all CONNECTED (s)',
    'one start, INITIALIZING → CONNECTED, median / max (s)',
    'not CONNECTED within the bound',
    'QR shown',
    'failed starts retried',
    'peak PSS (MiB)',
    'processes at the peak',
    "killed supervisor's processes: at the kill / API up / after the boot",
    'load (1 min) at the kill',
  ];
  const rows = boots.map((boot, i) => [
    String(i + 1),
    String(boot.instances),
    seconds(boot.apiUpMs),
    seconds(boot.connectedMs.length === 0 ? null : Math.min(...boot.connectedMs)),
    seconds(allBack(boot)),
    boot.startMs.length === 0 ? DASH : pair(boot.startMs, seconds),
    String(boot.failed.length),
    String(boot.qrShown.length),
    String(boot.retriedStarts),
    mebibytes(boot.peakBytes),
    String(boot.processesAtPeak),
    `${boot.killedLife.atKill} / ${boot.killedLife.atApiUp} / ${boot.killedLife.afterBoot.length}`,
    boot.loadAtKill.toFixed(1),
  ]);
  if (boots.length > 1) {
    // A boot that lost an instance has no "all back" time: the median is then of none.
    const times = boots.map(allBack);
    const median_ = times.includes(null) ? null : median(times as number[]);
    const firsts = boots.flatMap((b) => (b.connectedMs.length === 0 ? [] : [Math.min(...b.connectedMs)]));
    rows.push([`median of ${boots.length}`, DASH, seconds(median(boots.map((b) => b.apiUpMs))), seconds(median(firsts)), seconds(median_), ...Array<string>(header.length - 5).fill(DASH)]);
  }
  return renderTable(header, rows, 0);
}

/** Every verdict of the run; each one can fail. */
export function verdicts(idle: IdleResult, api: readonly RouteRow[], boots: readonly BootResult[], end: RunEnd, apiFailures: readonly string[]): Verdict[] {
  const lateLoops = idle.loops.filter((l) => l.runs < expectedTicks(l.name, idle.windowMs) || l.skips > 0 || l.errors > 0);
  const loads = api.flatMap((r) => (r.load ? [r.load] : []));
  const badAnswers = loads.reduce((sum, l) => sum + l.non2xx + l.errors, 0);
  const list = (items: readonly string[]) => (items.length === 0 ? 'none' : items.slice(0, 10).join('; ') + (items.length > 10 ? ` … (${items.length} in all)` : ''));
  /** Per boot, numbered when there are several: `boot 2: …`. */
  const perBoot = (items: (b: BootResult) => readonly string[]) => boots.flatMap((b, i) => items(b).map((item) => (boots.length > 1 ? `boot ${i + 1}: ${item}` : item)));
  const failed = perBoot((b) => b.failed);
  const instances = boots[0]?.instances ?? 0;
  const times = boots.map(allBack).filter((t): t is number => t !== null);
  return [
    {
      name: 'steady while idle',
      ok: idle.changes.length === 0 && idle.notConnected.length === 0,
      measured: `${idle.changes.length} status change(s) recorded in the window (${list(idle.changes.map((c) => `${c.instanceId} → ${c.to}`))}); not CONNECTED at its ends: ${list(idle.notConnected)}`,
      limit: `every one of ${idle.instances} CONNECTED throughout`,
    },
    {
      name: 'check loops on time',
      ok: idle.loops.length > 0 && lateLoops.length === 0,
      measured:
        idle.loops.length === 0
          ? 'no loop seen in /api/health'
          : idle.loops.map((l) => `${l.name} ${l.runs} tick(s) (≥ ${expectedTicks(l.name, idle.windowMs)}), ${l.skips} skipped, ${l.errors} failed`).join('; '),
      limit: 'each loop ≥ one tick per whole interval of the window, no skip, no error',
    },
    {
      name: 'API under load',
      ok: loads.length === api.length && api.length > 0 && badAnswers === 0,
      measured: `${loads.length}/${api.length} routes loaded; ${badAnswers} non-2xx or failed of ${loads.reduce((sum, l) => sum + l.total, 0)} requests`,
      limit: 'every route, every answer 2xx',
    },
    {
      name: 'all back after the SIGKILL',
      ok: boots.length > 0 && failed.length === 0,
      measured:
        boots.length === 0
          ? 'no boot measured'
          : failed.length > 0
            ? `missed: ${list(failed)}`
            : boots.length === 1
              ? `${instances}/${instances} CONNECTED in ${seconds(times[0]!)} s`
              : `${boots.length} boots, all ${instances} CONNECTED each time: median ${seconds(median(times))} s, max ${seconds(max(times))} s`,
      limit: `all ${instances} within ${(boots[0]?.boundMs ?? 0) / 1000} s of the kill${boots.length > 1 ? ', every boot' : ''}`,
    },
    {
      name: 'no QR after the SIGKILL',
      ok: perBoot((b) => b.qrShown).length === 0,
      measured: list(perBoot((b) => b.qrShown)),
      limit: 'none',
    },
    {
      name: "killed supervisor's processes gone",
      ok: perBoot((b) => b.killedLife.afterBoot).length === 0,
      measured: boots
        .map((b, i) => `${boots.length > 1 ? `boot ${i + 1}: ` : ''}${b.killedLife.atKill} at the kill, ${b.killedLife.atApiUp} when the new one answered, after the boot: ${list(b.killedLife.afterBoot)}`)
        .join('; '),
      limit: 'none after the boot',
    },
    {
      name: 'no supervisor error',
      ok: end.log.errors.length === 0 && apiFailures.length === 0,
      measured: `${end.log.errors.length} error line(s) in its log (${list(end.log.errors)}); ${apiFailures.length} request(s) of the bench answered with an error or not at all (${list(apiFailures)})`,
      limit: 'none',
    },
    {
      name: 'graceful stop, nothing left',
      ok: end.exit?.code === 0 && end.leftovers.length === 0 && end.pgrepAfterKill.length === 0,
      measured: `SIGTERM → ${end.exit ? `exit ${end.exit.code ?? end.exit.signal}` : 'no exit (killed)'}; left running: ${list(end.leftovers)}; pgrep after the cleanup: ${list(end.pgrepAfterKill)}`,
      limit: 'exit 0; no process of the run left',
    },
  ];
}

export function renderReport(facts: ReportFacts, idle: IdleResult, api: readonly RouteRow[], boots: readonly BootResult[], end: RunEnd, checks: readonly Verdict[]): string {
  const failed = checks.filter((v) => !v.ok);
  const warnings = [...end.log.warnings.entries()].map(([kind, count]) => `${count} × ${kind}`);
  return [
    `Command: ${facts.command}`,
    `Commit: ${facts.commit}`,
    facts.machine,
    `Load: ${facts.load}`,
    `Supervisor: \`node dist/src/main.js\` in its own process, every setting at the product's default but ${Object.entries(facts.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} (and where it listens, its key, its database and folders); real workers and Chromium on the fake WhatsApp Web page.`,
    '',
    `### Idle steady state, ${idle.instances} linked instances`,
    '',
    idleTable(idle),
    '',
    `PSS of every process of the run (supervisor, workers, Chromium and its crashpad handlers; ${median(idle.processes) ?? DASH} processes), sampled ${idle.totalBytes.length} times; ` +
      `per instance = (total − supervisor) / ${idle.instances}. CPU: user + system time from /proc over the window, ${facts.cores} cores on the machine; ` +
      `MariaDB's is not counted (shared with others). Processes of the run that ended / started during the window: ${idle.totalCpu.ended} / ${idle.totalCpu.started}.`,
    "Context rows: figures quoted in the issue, measured by others on real WhatsApp Web, whose page holds far more than the fake one: not comparable one to one, only the order of magnitude. 1 GB ≈ 954 MiB.",
    '',
    'Check loops at their default intervals (from `GET /api/health`, polled every few seconds during the window):',
    '',
    loopTable(idle),
    '',
    `The supervisor's event-loop lag over the window (its \`/metrics\`, perf_hooks delay histogram; work that held every request and message behind it): ${
      idle.eventLoopLag === null ? 'not read' : `max ${millis(idle.eventLoopLag.maxMs)} ms, p99 ${millis(idle.eventLoopLag.p99Ms)} ms`
    }. A tick's duration above includes its waits (pings, IPC); the lag is what of it blocked.`,
    '',
    `### API under load, after the idle window`,
    '',
    routeTable(api),
    '',
    '### Boot after SIGKILL of the supervisor',
    '',
    bootTable(boots),
    '',
    `${boots.length > 1 ? `${boots.length} boots, one after the other: each time all were CONNECTED again, the fleet settled, then the next SIGKILL. ` : ''}The supervisor was killed with SIGKILL and started again at once on the same database and session folder (pm2 would wait ~1 s); times from the kill, ` +
      `status changes as the new supervisor recorded them in \`instance_events\`. Peak PSS: every process of the run, the killed supervisor's leftovers included, sampled through the boot. ` +
      `Its workers exit when their channel to it closes, closing their browser; the new supervisor reaps any Chromium still on a profile before it starts one.`,
    `Supervisor log warnings over the run: ${warnings.length === 0 ? 'none' : warnings.join('; ')}.`,
    '',
    verdictTable(checks),
    '',
    failed.length === 0 ? 'VERDICT: PASS' : `VERDICT: FAIL (${failed.map((v) => v.name).join(', ')})`,
  ].join('\n');
}
