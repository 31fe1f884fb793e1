import { hostname } from 'node:os';
import type { Config } from '../config/index.js';

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '']);

/** How the other nodes reach this one: NODE_URL, else http://<HOST, or the host name when HOST binds every address>:<PORT>. */
export function nodeUrl(config: Pick<Config, 'nodeUrl' | 'host' | 'port'>, boundPort?: number): string {
  if (config.nodeUrl) return config.nodeUrl.replace(/\/+$/, '');
  const host = ANY_ADDRESS.has(config.host) ? hostname() : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort ?? config.port}`;
}
