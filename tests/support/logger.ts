import { Writable } from 'node:stream';
import { createLogger, type Logger, type LoggerOptions } from '../../src/logger/index.js';

/** A logger whose output is collected in memory, for assertions on what was (not) logged. */
export function capturingLogger(options: Partial<LoggerOptions> = {}): { log: Logger; output: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level: 'debug', format: 'pretty', secrets: [], ...options, stream });
  return { log, output: () => chunks.join('') };
}

const noop = () => undefined;

/** A logger that drops everything. */
export const silentLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop, child: () => silentLogger };
