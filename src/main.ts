import { join } from 'node:path';
import { environmentWithFile, loadConfig, secretValues, type Config } from './config/index.js';
import { Category, createLogger } from './logger/index.js';
import { Shutdown } from './supervisor/shutdown.js';
import { Supervisor } from './supervisor/supervisor.js';

function configOrExit(): Config {
  try {
    return loadConfig(environmentWithFile(process.env, join(process.cwd(), '.env')));
  } catch (err) {
    process.stderr.write(`wa-fleet: invalid setting ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const log = createLogger({ level: config.logLevel, format: config.logFormat, file: config.logFile, secrets: secretValues(config) });
const system = log.child({ category: Category.SYSTEM });
const shutdown = new Shutdown({ timeoutMs: config.shutdownTimeoutMs, log: system });
shutdown.install();

try {
  const supervisor = new Supervisor({ config, log });
  for (const step of supervisor.shutdownSteps()) shutdown.add(step);
  await supervisor.start();
  system.info(`wa-fleet listening on http://${config.host}:${config.port}`);
  // PM2 `wait_ready`: online once the API answers and rehydration has been scheduled.
  process.send?.('ready');
} catch (err) {
  system.error(`startup failed: ${(err as Error).message}`);
  await shutdown.run('startup failure', 1);
}
