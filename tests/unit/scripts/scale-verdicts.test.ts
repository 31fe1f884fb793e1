import { describe, expect, it } from 'vitest';
import type { RouteRow } from '../../../scripts/bench/support/route-report.js';
import { verdicts, type BootResult, type IdleResult } from '../../../scripts/bench/support/scale-report.js';
import type { RunEnd } from '../../../scripts/bench/support/scale-run.js';

const cpu = { seconds: 3, ended: 0, started: 0 };
const loopsOf = () => ['health', 'deep', 'recovery', 'memory', 'memorySample'].map((name) => ({ name, runs: 100, skips: 0, errors: 0, durationsMs: [10] }));

function goodRun() {
  const idle: IdleResult = { instances: 50, windowMs: 300_000, totalBytes: [1], supervisorBytes: [1], processes: [1], supervisorCpu: cpu, totalCpu: cpu, loops: loopsOf(), eventLoopLag: null, changes: [], notConnected: [] };
  const load = { durationSec: 10, requestsPerSec: 100, latencyP50Ms: 2, latencyP99Ms: 5, latencyP999Ms: 7, latencyMaxMs: 9, total: 1000, non2xx: 0, errors: 0, timeouts: 0, statusCodes: { '200': 1000 } };
  const api: RouteRow[] = ['GET /api/instances', 'GET /api/instance/:id/details', 'GET /api/memory/report'].map((route) => ({ route, judged: true, load: { ...load }, serverCpuUs: null, loopDelayMs: null }));
  const boot: BootResult = {
    instances: 50,
    boundMs: 600_000,
    loadAtKill: 2,
    apiUpMs: 900,
    connectedMs: Array.from({ length: 50 }, (_, i) => 5_000 + i * 100),
    startMs: [3_000],
    failed: [],
    qrShown: [],
    retriedStarts: 0,
    peakBytes: 1,
    processesAtPeak: 1,
    killedLife: { atKill: 200, atApiUp: 0, afterBoot: [] },
  };
  const end: RunEnd = { exit: { code: 0, signal: null }, leftovers: [], pgrepAfterKill: [], log: { errors: [], warnings: new Map() } };
  return { idle, api, boot, end, apiFailures: [] as string[] };
}

const failing = (r: ReturnType<typeof goodRun>, boots = [r.boot]) => verdicts(r.idle, r.api, boots, r.end, r.apiFailures).filter((v) => !v.ok).map((v) => v.name);

describe('bench:scale verdicts', () => {
  it('a clean run passes every verdict', () => {
    expect(failing(goodRun())).toEqual([]);
  });

  it.each<[string, (r: ReturnType<typeof goodRun>) => void]>([
    ['steady while idle', (r) => r.idle.changes.push({ instanceId: 'scale-007', to: 'DISCONNECTED', at: 1 })],
    ['steady while idle', (r) => r.idle.notConnected.push('scale-003 RECONNECTING')],
    ['check loops on time', (r) => (r.idle.loops[0]!.runs = 1)],
    ['check loops on time', (r) => (r.idle.loops[2]!.errors = 1)],
    ['check loops on time', (r) => (r.idle.loops = [])],
    ['API under load', (r) => (r.api[1]!.load!.non2xx = 3)],
    ['API under load', (r) => (r.api[0]!.load = null)],
    ['all back after the SIGKILL', (r) => r.boot.failed.push('scale-042 INITIALIZING')],
    ['no QR after the SIGKILL', (r) => r.boot.qrShown.push('scale-001')],
    ["killed supervisor's processes gone", (r) => r.boot.killedLife.afterBoot.push('chromium 4242')],
    ['no supervisor error', (r) => r.end.log.errors.push('{"level":"error"}')],
    ['no supervisor error', (r) => r.apiFailures.push('POST /api/instances 500')],
    ['graceful stop, nothing left', (r) => (r.end.exit = { code: 1, signal: null })],
    ['graceful stop, nothing left', (r) => r.end.leftovers.push('worker 77')],
  ])('fails "%s" alone on its defect', (name, spoil) => {
    const run = goodRun();
    spoil(run);
    expect(failing(run)).toEqual([name]);
  });

  it('judges every boot of several: one that lost an instance, showed a QR or left a process fails the run', () => {
    const run = goodRun();
    const clean = structuredClone(run.boot);
    expect(failing(run, [clean, structuredClone(clean), structuredClone(clean)])).toEqual([]);
    const lost = { ...structuredClone(clean), failed: ['scale-009 LOADING'] };
    const qr = { ...structuredClone(clean), qrShown: ['scale-002'] };
    const left = { ...structuredClone(clean), killedLife: { atKill: 200, atApiUp: 3, afterBoot: ['worker 99'] } };
    expect(failing(run, [clean, lost])).toEqual(['all back after the SIGKILL']);
    expect(failing(run, [qr, clean])).toEqual(['no QR after the SIGKILL']);
    expect(failing(run, [clean, clean, left])).toEqual(["killed supervisor's processes gone"]);
    expect(failing(run, [])).toEqual(['all back after the SIGKILL']);
  });
});
