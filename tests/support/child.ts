import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface RunningChild {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** SIGKILLs the process group if still running. */
  kill: () => void;
}

/** Spawns a command in its own process group, collecting stdout+stderr. */
export function startChild(command: string, args: string[], options: SpawnOptions = {}): RunningChild {
  const proc = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    kill: () => {
      if (proc.exitCode !== null || proc.signalCode !== null || !proc.pid) return;
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
}
