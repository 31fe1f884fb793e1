/**
 * wa-fleet's worker with Chromium's multi-process model instead of `--single-process`: same
 * entry, Node flags, client and protocol; only the browser flags differ, so the footprint bench
 * can show what `--single-process` buys. The driver copies WORKER_CHROMIUM_ARGS each time it
 * starts a client, so rewriting the array here, before the worker can receive `init`, changes the
 * flags of this process only, and src/ needs no bench-only switch.
 */
import { WORKER_CHROMIUM_ARGS } from '../../../src/worker/chromium-args.js';
import { multiProcessArgs } from './flags.js';

const args = WORKER_CHROMIUM_ARGS as string[];
if (Object.isFrozen(args)) throw new Error('WORKER_CHROMIUM_ARGS is frozen: the bench can no longer override it in place');
args.splice(0, args.length, ...multiProcessArgs(args));

await import('../../../src/worker/main.js');
