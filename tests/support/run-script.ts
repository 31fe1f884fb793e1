import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

export interface ScriptOutput {
  stdout: string;
  stderr: string;
}

/**
 * Runs `scripts/<name>` (through its shebang, so the file must be executable) from a cwd outside the
 * repo, with the test's environment changed by `env` (an undefined value removes the variable).
 * Rejects on a non-zero exit, with the script's stderr in the message, or after `timeoutMs`.
 */
export function runScript(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<ScriptOutput> {
  const childEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return new Promise((resolve, reject) => {
    execFile(
      join(PACKAGE_ROOT, 'scripts', name),
      args,
      { cwd: '/', env: childEnv, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr })),
    );
  });
}
