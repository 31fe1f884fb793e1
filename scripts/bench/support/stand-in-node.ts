/**
 * One supervisor as its own OS process, like `node dist/src/main.js`, but whose workers are the
 * tests' light stand-ins (tests/support/fixtures/stand-in-worker.ts: the worker protocol, no
 * browser), so that a 2-core machine can run 100 instances across several supervisors.
 * Everything else is the product: `loadConfig(process.env)`, the Supervisor (database pool,
 * journal, check loops, webhook dispatcher, message sender, HTTP API, CLUSTER=on node) and the
 * graceful shutdown of src/main.ts (SIGTERM/SIGINT → Shutdown's steps).
 *
 * Run from the package root (the workers are forked with `--import tsx`, resolved from there):
 *   node --import tsx scripts/bench/support/stand-in-node.ts
 * with the settings in the environment only (no `.env` is read).
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, secretValues, type Config } from '../../../src/config/index.js';
import { Category, createLogger } from '../../../src/logger/index.js';
import type { WorkerLauncher } from '../../../src/supervisor/instance/handle.js';
import { Shutdown } from '../../../src/supervisor/shutdown.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { WorkerHandle } from '../../../src/worker/handle.js';
import type { WorkerInit } from '../../../src/worker/protocol.js';

const STAND_IN_WORKER = fileURLToPath(new URL('../../../tests/support/fixtures/stand-in-worker.ts', import.meta.url));

/** Stand-in workers, started with the product's start timeout (as tests/support/fleet.ts's standInLauncher, which fixes 15 s). */
function standInLauncher(config: Config): WorkerLauncher {
  return (instanceId, listener) => WorkerHandle.start({ init: { instanceId } as WorkerInit, startTimeoutMs: config.workerStartTimeoutMs, ...listener, entry: STAND_IN_WORKER });
}

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    process.stderr.write(`stand-in-node: invalid setting ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const log = createLogger({ level: config.logLevel, format: config.logFormat, file: config.logFile, secrets: secretValues(config) });
const system = log.child({ category: Category.SYSTEM });
const shutdown = new Shutdown({ timeoutMs: config.shutdownTimeoutMs, log: system });
shutdown.install();

try {
  const supervisor = new Supervisor({ config, log, launch: standInLauncher(config) });
  for (const step of supervisor.shutdownSteps()) shutdown.add(step);
  await supervisor.start();
  system.info(`stand-in node listening on http://${config.host}:${config.port}`);
} catch (err) {
  system.error(`startup failed: ${(err as Error).message}`);
  await shutdown.run('startup failure', 1);
}
