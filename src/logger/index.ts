import type { Writable } from 'node:stream';
import winston from 'winston';
import { createRedactor, redactDeep } from '../../lib/redact.js';

export const Category = {
  SESSION: 'SESSION',
  RECONNECT: 'RECONNECT',
  HEALTH: 'HEALTH',
  MEMORY: 'MEMORY',
  API: 'API',
  DB: 'DB',
  WEBHOOK: 'WEBHOOK',
  /** The message queue: sends, receipts, inbound messages. */
  MESSAGE: 'MESSAGE',
  /** Boot, shutdown and wiring of the supervisor itself. */
  SYSTEM: 'SYSTEM',
} as const;
export type Category = (typeof Category)[keyof typeof Category];

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger whose lines carry these fields (typically category and instanceId). */
  child(fields: { category?: Category; instanceId?: string } & LogFields): Logger;
}

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  format: 'pretty' | 'json';
  /** Values to hide wherever they appear (API key, webhook secret, DB password). */
  secrets: readonly string[];
  /** JSON lines are appended here as well when set. */
  file?: string | undefined;
  /** Console output goes here instead of stdout (tests capture it). */
  stream?: Writable;
}

const LEVEL_FIELDS = new Set(['level', 'message', 'timestamp', 'category', 'instanceId']);

function timestamp(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '');
}

/** `[2026-01-15 10:30:45.123] [INFO] [SESSION] [sales-01] message {extra}` */
const pretty = winston.format.printf((info) => {
  const parts = [`[${String(info.timestamp)}]`, `[${info.level.toUpperCase()}]`];
  if (info.category) parts.push(`[${String(info.category)}]`);
  if (info.instanceId) parts.push(`[${String(info.instanceId)}]`);
  parts.push(String(info.message));
  const extra = Object.fromEntries(Object.entries(info).filter(([k]) => !LEVEL_FIELDS.has(k)));
  if (Object.keys(extra).length > 0) parts.push(JSON.stringify(extra));
  return parts.join(' ');
});

export function createLogger(options: LoggerOptions): Logger {
  const redact = createRedactor(options.secrets);
  // Runs before any formatting so no transport ever sees a secret.
  const redaction = winston.format((info) => {
    for (const key of Object.keys(info)) (info as Record<string, unknown>)[key] = redactDeep(info[key], redact);
    return info;
  });
  const base = winston.format.combine(winston.format.timestamp({ format: timestamp }), redaction());
  const consoleFormat = options.format === 'json' ? winston.format.json() : pretty;
  const transports: winston.transport[] = [
    options.stream
      ? new winston.transports.Stream({ stream: options.stream, format: consoleFormat })
      : new winston.transports.Console({ format: consoleFormat }),
  ];
  if (options.file) transports.push(new winston.transports.File({ filename: options.file, format: winston.format.json() }));
  return wrap(winston.createLogger({ level: options.level, format: base, transports }));
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (message, fields) => w.error(message, fields),
    warn: (message, fields) => w.warn(message, fields),
    info: (message, fields) => w.info(message, fields),
    debug: (message, fields) => w.debug(message, fields),
    child: (fields) => wrap(w.child(fields)),
  };
}
