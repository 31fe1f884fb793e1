import { readMemory, readMemoryAsync, sampleTree, sampleTreeAsync, type MemoryUsage, type ProcMemory, type TreeSample } from '../../lib/proc-memory.js';
import type { TrendSample } from '../../lib/trend.js';

/** One reading of one instance, straight from /proc. */
export interface MemorySample {
  at: number;
  workerPid: number;
  browserPid: number | null;
  /** The worker process alone; null when it could not be read (exited between two reads). */
  workerPssBytes: number | null;
  workerRssBytes: number | null;
  /** The whole Chromium tree (browser, zygotes, renderers, GPU); null without a browser. */
  browserPssBytes: number | null;
  browserRssBytes: number | null;
}

export interface SupervisorMemory {
  at: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  rssBytes: number;
  pssBytes: number | null;
}

interface Series {
  /** `workerPid/browserPid`: a restart changes it, and the history of another process says nothing about this one. */
  key: string;
  latest: MemorySample;
  /** Total PSS (worker + browser) over time, oldest first, inside the window. */
  history: TrendSample[];
}

export interface SampleTarget {
  id: string;
  workerPid: number | null;
  browserPid: number | null;
}

/** A cap on the history whatever the window, so a tiny sample interval cannot grow it without bound. */
const MAX_SAMPLES = 5_000;
/** Instances `sampleAll` reads at a time: enough to keep libuv's four pool threads busy, few enough to leave them to other file work in turn. */
const SAMPLE_LANES = 4;

/** The proc readers the sampler uses: synchronous for one instance at a decision, through the thread pool for the whole fleet. */
export type SamplerProc = Pick<ProcMemory, 'readMemory' | 'sampleTree' | 'readMemoryAsync' | 'sampleTreeAsync'>;

interface Reading {
  worker: MemoryUsage | null;
  browser: TreeSample | null;
}

/**
 * Keeps the latest memory reading and a windowed PSS history per instance, read from /proc
 * (smaps_rollup): no process is spawned per sample. Two cadences: the memory-sample loop's
 * `sampleAll` adds to the history the leak trend is computed from, reading the fleet through the
 * thread pool (at 50 instances with Chromium, read synchronously, it held the event loop for
 * 0.6-0.8 s every 30 s, and every API request with it); the start gate's measurement
 * (Fleet.measureMemory: `prune`, then `sampleOne` without recording) refreshes only the latest
 * readings, so the gate, the memory report and the dashboard all read the same current figures
 * without changing the trend's rhythm.
 */
export class MemorySampler {
  private readonly series = new Map<string, Series>();
  private supervisorMemory: SupervisorMemory | null = null;
  private readonly proc: SamplerProc;

  constructor(
    private windowMs: number,
    proc?: SamplerProc,
  ) {
    this.proc = proc ?? { readMemory, sampleTree, readMemoryAsync, sampleTreeAsync };
  }

  /** Keeps at least `windowMs` of history (the checks' leak window may be longer than the fleet's default). */
  retain(windowMs: number): void {
    this.windowMs = Math.max(this.windowMs, windowMs);
  }

  /**
   * Samples every target with a worker, SAMPLE_LANES at a time, every file read in the thread
   * pool; instances without one lose their series (not running, nothing to trend).
   */
  async sampleAll(targets: readonly SampleTarget[], now = Date.now()): Promise<void> {
    const running = targets.filter((t) => t.workerPid !== null);
    this.prune(new Set(running.map((t) => t.id)));
    let next = 0;
    const lane = async () => {
      for (let target = running[next++]; target !== undefined; target = running[next++]) {
        const worker = await this.proc.readMemoryAsync(target.workerPid!);
        const browser = target.browserPid === null ? null : await this.proc.sampleTreeAsync(target.browserPid);
        this.apply(target, { worker, browser }, now, true);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SAMPLE_LANES, running.length) }, lane));
    const usage = process.memoryUsage();
    this.supervisorMemory = {
      at: now,
      heapUsedBytes: usage.heapUsed,
      heapTotalBytes: usage.heapTotal,
      rssBytes: usage.rss,
      pssBytes: (await this.proc.readMemoryAsync(process.pid))?.pssBytes ?? null,
    };
  }

  /** Instances not in `running` lose their series (no worker: nothing to measure or trend). */
  prune(running: ReadonlySet<string>): void {
    for (const id of this.series.keys()) if (!running.has(id)) this.series.delete(id);
  }

  /** One instance now, synchronously (a start decision, a forced GC); returns the reading, or null without a worker. `record`: add it to the history. */
  sampleOne(target: SampleTarget, now = Date.now(), record = true): MemorySample | null {
    if (target.workerPid === null) return null;
    const worker = this.proc.readMemory(target.workerPid);
    const browser = target.browserPid === null ? null : this.proc.sampleTree(target.browserPid);
    return this.apply(target, { worker, browser }, now, record);
  }

  /**
   * Files a reading taken at `now`. A newer reading already filed (a start decision's, while
   * sampleAll's read was in flight) stays the latest; a reading of processes that were replaced
   * meanwhile is dropped.
   */
  private apply(target: SampleTarget, reading: Reading, now: number, record: boolean): MemorySample | null {
    const { worker, browser } = reading;
    const browserRead = browser !== null && browser.pids.length > 0;
    const sample: MemorySample = {
      at: now,
      workerPid: target.workerPid!,
      browserPid: target.browserPid,
      workerPssBytes: worker?.pssBytes ?? null,
      workerRssBytes: worker?.rssBytes ?? null,
      browserPssBytes: browserRead ? browser.pssBytes : null,
      browserRssBytes: browserRead ? browser.rssBytes : null,
    };
    const key = `${target.workerPid}/${target.browserPid ?? '-'}`;
    let series = this.series.get(target.id);
    if (series && series.key !== key && series.latest.at > now) return null;
    if (!series || series.key !== key) {
      series = { key, latest: sample, history: [] };
      this.series.set(target.id, series);
    }
    if (now >= series.latest.at) series.latest = sample;
    if (record && (sample.workerPssBytes !== null || sample.browserPssBytes !== null)) {
      series.history.push({ t: now, v: (sample.workerPssBytes ?? 0) + (sample.browserPssBytes ?? 0) });
    }
    const from = now - this.windowMs;
    while (series.history.length > 0 && (series.history[0]!.t < from || series.history.length > MAX_SAMPLES)) series.history.shift();
    return sample;
  }

  latest(id: string): MemorySample | null {
    return this.series.get(id)?.latest ?? null;
  }

  history(id: string): TrendSample[] {
    return [...(this.series.get(id)?.history ?? [])];
  }

  /** A restart is on its way: the next process starts a history of its own. */
  forget(id: string): void {
    this.series.delete(id);
  }

  get supervisor(): SupervisorMemory | null {
    return this.supervisorMemory;
  }
}
