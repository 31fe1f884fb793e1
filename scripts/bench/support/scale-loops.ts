import { sleep } from '../../../lib/timeout.js';
import type { ApiClient } from '../../support/api-client.js';
import { describeError } from './machine.js';

/** One check loop as `GET /api/health` shows it. */
interface LoopView {
  running: boolean;
  runs: number;
  skips: number;
  errors: number;
  lastRunAt: string | null;
  lastDurationMs: number | null;
}

/** What a window saw of one loop. */
export interface LoopTicks {
  name: string;
  /** Ticks started within the window, by the loop's own count. */
  runs: number;
  skips: number;
  errors: number;
  /** Duration of each finished tick that began in the window. */
  durationsMs: number[];
}

/**
 * The check loops' ticks over a window, from the supervisor's public `GET /api/health`, which
 * gives each loop's counters and the duration of its last tick. Polled every `pollMs` (well
 * below the shortest default interval, 30 s) so that every tick is seen once finished.
 */
export class LoopWatch {
  private first: Record<string, LoopView> | null = null;
  private last: Record<string, LoopView> | null = null;
  private readonly durations = new Map<string, Map<string, number>>();
  private stopping = false;
  private readonly polling: Promise<void>;
  /** Polls that got no 200: the supervisor's failures, for the verdict. */
  readonly failures: string[] = [];

  constructor(
    private readonly api: ApiClient,
    private readonly pollMs: number,
  ) {
    this.polling = this.poll();
  }

  private async read(): Promise<void> {
    try {
      const answer = await this.api.request<{ loops: Record<string, LoopView> }>('GET', '/api/health');
      if (answer.status !== 200) return void this.failures.push(`GET /api/health: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
      const loops = answer.body.loops;
      this.first ??= loops;
      this.last = loops;
      for (const [name, loop] of Object.entries(loops)) {
        // A tick in progress shows the previous tick's duration: it is read once finished.
        if (loop.running || loop.lastRunAt === null || loop.lastDurationMs === null) continue;
        if (loop.lastRunAt <= (this.first[name]?.lastRunAt ?? '')) continue;
        const seen = this.durations.get(name) ?? new Map<string, number>();
        seen.set(loop.lastRunAt, loop.lastDurationMs);
        this.durations.set(name, seen);
      }
    } catch (err) {
      this.failures.push(`GET /api/health: no answer (${describeError(err)})`);
    }
  }

  private async poll(): Promise<void> {
    while (!this.stopping) {
      await this.read();
      await sleep(this.pollMs);
    }
  }

  /** Ends the window with one last read; each loop's ticks between the first read and this one. */
  async stop(): Promise<LoopTicks[]> {
    this.stopping = true;
    await this.polling;
    await this.read();
    const first = this.first ?? {};
    return Object.entries(this.last ?? {}).map(([name, end]) => {
      const start = first[name] ?? end;
      return {
        name,
        runs: end.runs - start.runs,
        skips: end.skips - start.skips,
        errors: end.errors - start.errors,
        durationsMs: [...(this.durations.get(name)?.values() ?? [])],
      };
    });
  }
}
