/**
 * Which database errors mean "the database is away" (an outage: wait and write later) rather than
 * "this statement is wrong" (a data error: that one write fails, nobody else waits). Only the
 * first kind may open the journal's circuit: one instance's over-long value must never hold back
 * every other instance's writes.
 */

/** Network and server-state codes from mysql2, Node's sockets and MariaDB. */
const OUTAGE_CODES = new Set([
  // the socket: refused, reset, timed out, host gone
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // mysql2's own view of a dead connection or pool
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'POOL_CLOSED',
  // the server: too many connections, shutting down, read-only
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
  'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION',
  'ER_LOCK_WAIT_TIMEOUT',
]);

/** True when `err` says the database cannot be reached or cannot write now, not that the write is wrong. */
export function isOutage(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; fatal?: unknown; message?: unknown };
  if (typeof e.code === 'string' && OUTAGE_CODES.has(e.code)) return true;
  // mysql2 marks errors that killed the connection as fatal; a data error never is.
  if (e.fatal === true) return true;
  return typeof e.message === 'string' && /^Pool is closed|Connection lost|connect ETIMEDOUT|Can't add new command when connection is in closed state/.test(e.message);
}
