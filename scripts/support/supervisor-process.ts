import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/** The built entry `npm start` runs. */
export const SUPERVISOR_ENTRY = join(PACKAGE_ROOT, 'dist/src/main.js');

/** The environment of a supervisor in demo mode on loopback, as the harnesses start one (settings on top). */
export function demoModeEnv(o: { port: number; apiKey: string; mysqlUrl: string; dir: string; chromePath: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'development',
    WA_FLEET_FAKE_WEB: 'true',
    HOST: '127.0.0.1',
    PORT: String(o.port),
    API_KEY: o.apiKey,
    MYSQL_URL: o.mysqlUrl,
    MIGRATE_ON_START: 'true',
    SESSION_STORAGE_PATH: join(o.dir, 'sessions'),
    CACHE_PATH: join(o.dir, 'wwebjs_cache'),
    CHROME_PATH: o.chromePath,
    LOG_FORMAT: 'json',
  };
}

export interface SupervisorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SupervisorProcessOptions {
  /** Working directory: the process reads `.env` from it, so a scratch folder keeps the user's out. */
  cwd: string;
  /** The whole environment of the supervisor (settings included). */
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here: every life of the supervisor in one file. */
  logFile: string;
  /** Where the API answers, for the readiness wait. */
  baseUrl: string;
  /** The entry to run; default the build's (a chaos run may run a deliberately broken copy). */
  entry?: string;
}

/**
 * The supervisor as a user runs it (`npm start` = `node dist/src/main.js`), one life at a time:
 * start, signal, wait for its exit, start again. Black box: only signals, its exit and its HTTP
 * readiness are seen from here.
 */
export class SupervisorProcess {
  private proc: ChildProcess | null = null;
  private exit: Promise<SupervisorExit> = Promise.resolve({ code: null, signal: null });
  private lives = 0;

  constructor(private readonly options: SupervisorProcessOptions) {}

  get pid(): number | null {
    return this.alive ? (this.proc?.pid ?? null) : null;
  }

  get alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** How many times it has been started. */
  get starts(): number {
    return this.lives;
  }

  /** Starts a new life and waits until `/healthz` answers 200 (or the process dies, or `timeoutMs`). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.alive) throw new Error('the supervisor is already running');
    const fd = openSync(this.options.logFile, 'a');
    const proc = spawn(process.execPath, [this.options.entry ?? SUPERVISOR_ENTRY], { cwd: this.options.cwd, env: this.options.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.proc = proc;
    this.lives++;
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`the supervisor exited during its start (${JSON.stringify(await this.exit)}); see ${this.options.logFile}`);
      try {
        const res = await fetch(`${this.options.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the supervisor did not answer /healthz within ${timeoutMs} ms; see ${this.options.logFile}`);
      await sleep(200);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc!.kill(signal);
  }

  /** Resolves with the exit, or null when it has not exited within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<SupervisorExit | null> {
    if (!this.proc) return { code: null, signal: null };
    return Promise.race([this.exit, sleep(timeoutMs).then(() => null)]);
  }

  /** SIGTERM, then SIGKILL after `graceMs`: what an operator's `pm2 stop` does. */
  async stop(graceMs: number): Promise<SupervisorExit | null> {
    if (!this.alive) return this.waitExit(0);
    this.signal('SIGTERM');
    const exit = await this.waitExit(graceMs);
    if (exit) return exit;
    this.signal('SIGKILL');
    await this.waitExit(5_000);
    return null;
  }
}
