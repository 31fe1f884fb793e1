import { existsSync } from 'node:fs';
import { describeError } from '../bench/support/machine.js';
import { SUPERVISOR_ENTRY } from './supervisor-process.js';

/** A mistake in how the script was called: printed as one line, exit status 2, no stack. */
export class UsageError extends Error {}

/** Runs parseArgs (or any parse); its own complaints (an unknown flag, a missing value) become usage errors, in its words. */
export function parseOptions<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(describeError(err));
  }
}

export function wholeOption(name: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number >= ${min}, got ${text}`);
  return n;
}

export function positiveOption(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a number > 0, got ${text}`);
  return n;
}

/** The chaos and soak runs start the built supervisor, as `npm start` does. */
export function requireBuiltSupervisor(): void {
  if (!existsSync(SUPERVISOR_ENTRY)) throw new UsageError(`${SUPERVISOR_ENTRY} is missing: run npm run build first`);
}

/** Runs a script's main and exits with its status: 2 and one line for a usage error, 1 and the stack for anything else. */
export function runScriptMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof UsageError ? err.message : ((err as Error).stack ?? String(err))}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
