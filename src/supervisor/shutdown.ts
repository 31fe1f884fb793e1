import { coerceError } from '../../lib/errors.js';
import type { Logger } from '../logger/index.js';
import { PM2_SHUTDOWN_MESSAGE, SHUTDOWN_SIGNALS } from './signals.js';

export interface ShutdownStep {
  name: string;
  /** Gets the time left in the budget; should finish within it. */
  run: (remainingMs: number) => Promise<void>;
}

export interface ShutdownOptions {
  timeoutMs: number;
  log: Logger;
  exit?: (code: number) => void;
}

/**
 * The one path out of the process. Signals, PM2's message and uncaught errors all call `run`;
 * the steps run once, in the order they were added, within one overall budget; a second signal
 * during shutdown joins the first instead of starting another.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<void> | null = null;
  private readonly exit: (code: number) => void;

  constructor(private readonly options: ShutdownOptions) {
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  get inProgress(): boolean {
    return this.running !== null;
  }

  add(step: ShutdownStep): this {
    this.steps.push(step);
    return this;
  }

  /** Routes every way a process can be asked to end into `run`. */
  install(proc: NodeJS.Process = process): void {
    for (const signal of SHUTDOWN_SIGNALS) proc.on(signal, () => void this.run(signal, 0));
    proc.on('message', (msg) => {
      if (msg === PM2_SHUTDOWN_MESSAGE) void this.run('pm2 shutdown message', 0);
    });
    proc.on('uncaughtException', (err) => {
      this.options.log.error('uncaught exception', { error: coerceError(err) });
      void this.run('uncaughtException', 1);
    });
    proc.on('unhandledRejection', (reason) => {
      this.options.log.error('unhandled rejection', { error: coerceError(reason) });
      void this.run('unhandledRejection', 1);
    });
  }

  run(reason: string, exitCode: number): Promise<void> {
    if (this.running) {
      this.options.log.info(`shutdown already in progress, ignoring ${reason}`);
      return this.running;
    }
    this.running = this.runSteps(reason, exitCode);
    return this.running;
  }

  private async runSteps(reason: string, exitCode: number): Promise<void> {
    const { log, timeoutMs } = this.options;
    const started = Date.now();
    log.info(`shutting down (${reason}), budget ${timeoutMs} ms`);
    let code = exitCode;
    const budget = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    for (const step of this.steps) {
      const remaining = timeoutMs - (Date.now() - started);
      const outcome = await Promise.race([step.run(Math.max(0, remaining)).then(() => 'done' as const), budget]).catch(
        (err: unknown) => {
          log.error(`shutdown step ${step.name} failed`, { error: coerceError(err) });
          return 'failed' as const;
        },
      );
      if (outcome === 'timeout') {
        log.error(`shutdown budget of ${timeoutMs} ms spent during ${step.name}; exiting now`);
        code = 1;
        break;
      }
    }
    log.info(`shutdown complete in ${Date.now() - started} ms`, { exitCode: code });
    this.exit(code);
  }
}
