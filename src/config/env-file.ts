import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Environment } from './config.js';

/**
 * The process environment over the values of an optional `.env` file: what the quick start
 * writes is picked up by `npm start`, and anything exported in the shell (or by PM2) wins.
 */
export function environmentWithFile(processEnv: Environment, file: string): Environment {
  if (!existsSync(file)) return processEnv;
  const fromFile = parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  return { ...fromFile, ...processEnv };
}
