/**
 * The Chromium flag sets the footprint bench compares, besides the worker's own
 * (src/worker/chromium-args.ts).
 */

/**
 * A plain whatsapp-web.js client: nothing for memory, only what this machine needs. `--no-sandbox`
 * because the bench runs as root (Chromium refuses the sandbox then); the rest keep an offline
 * browser from trying the network at every start.
 */
export const PLAIN_CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** What replaces `--single-process`: a separate renderer, with the GPU process folded in and one renderer only. */
export const MULTI_PROCESS_REPLACEMENT: readonly string[] = ['--in-process-gpu', '--renderer-process-limit=1'];

/** The worker's flags with Chromium's multi-process model instead of `--single-process`, all else equal. */
export function multiProcessArgs(workerArgs: readonly string[]): string[] {
  const at = workerArgs.indexOf('--single-process');
  if (at < 0) throw new Error('the worker flags have no --single-process to replace; update the bench');
  return [...workerArgs.slice(0, at), ...MULTI_PROCESS_REPLACEMENT, ...workerArgs.slice(at + 1)];
}
