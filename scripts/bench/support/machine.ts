import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { findProcessesWithArg } from '../../../tests/support/processes.js';

/** The fleet benches' progress lines and the machine facts printed with their tables. */

const startedAt = Date.now();

/** `[1m05s] message` on stderr, so stdout holds the table alone. */
export function progress(message: string): void {
  const s = Math.round((Date.now() - startedAt) / 1000);
  process.stderr.write(`[${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s] ${message}\n`);
}

export const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Chromium processes running on the machine, ours included (what `ps -ef | grep -c [c]hromium` counts). */
export function chromiumProcessCount(): number {
  return findProcessesWithArg('chromium').length;
}

function chromiumVersion(chromePath: string): string {
  try {
    // Debian's launcher script complains on stderr about its own shell tests; only stdout matters.
    return execFileSync(chromePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).toString().trim();
  } catch {
    return `${chromePath} (version unknown)`;
  }
}

const loadText = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/**
 * The 1-minute load average, read every few seconds for the whole run: other work on a shared
 * machine moves every time measured here, and the reader must know how much there was.
 */
export class LoadWatch {
  private readonly seen: number[] = [];
  private readonly timer: NodeJS.Timeout;
  readonly atStart = loadText();

  constructor(intervalMs = 5_000) {
    this.read();
    this.timer = setInterval(() => this.read(), intervalMs);
    this.timer.unref();
  }

  private read(): void {
    this.seen.push(loadavg()[0] ?? 0);
  }

  /** `load average (1 min) during the run: min … max; at start a b c; at end a b c`. */
  summary(): string {
    clearInterval(this.timer);
    this.read();
    return (
      `load average (1 min) during the run ${Math.min(...this.seen).toFixed(2)}–${Math.max(...this.seen).toFixed(2)}; ` +
      `1/5/15 min at start ${this.atStart}, at end ${loadText()}`
    );
  }
}

/** Cores, memory and software, for the header of a table. */
export function machineFacts(chromePath: string, chromiumAtStart: number): string {
  const cpu = cpus();
  return [
    `Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, ` +
      `${chromiumAtStart} Chromium processes of others running at start`,
    `Software: Node ${process.version}, ${chromiumVersion(chromePath)}`,
  ].join('\n');
}
