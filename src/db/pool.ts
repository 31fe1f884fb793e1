import { handleWhen, retry } from 'cockatiel';
import mysql from 'mysql2/promise';

export type Pool = mysql.Pool;
export type Connection = mysql.PoolConnection;

/**
 * Every session runs in UTC with strict SQL modes, and READ COMMITTED: writers of one instance
 * are serialised by its row lock, so the gap locks of REPEATABLE READ only add deadlocks (two
 * new instances whose first events fall in the same empty index range).
 */
export const SESSION_SETUP =
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'; " +
  'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED';

export interface PoolOptions {
  url: string;
  size: number;
  /**
   * CLUSTER=on: the server ends a transaction left idle this many seconds and frees its row
   * locks (MariaDB's `idle_transaction_timeout`; MySQL has none and ignores the setting, see
   * idleTransactionLimit).
   */
  idleTransactionTimeoutS?: number;
}

/**
 * A mysql2 pool whose sessions run in UTC with strict SQL modes: timestamps are stored and read
 * as UTC, and a value outside an ENUM is an error instead of a silent ''.
 */
export function createPool({ url, size, idleTransactionTimeoutS }: PoolOptions): Pool {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: size,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    connectTimeout: 5_000,
    enableKeepAlive: true,
  });
  // mysql2 hands the new *callback-style* connection to this event (whatever its typings say);
  // a failure here surfaces as an error on the first query of that connection.
  pool.on('connection', (conn) => {
    const query = (conn as unknown as { query(sql: string, cb: (err: Error | null) => void): void }).query.bind(conn);
    for (const statement of SESSION_SETUP.split('; ')) query(statement, () => undefined);
    // Refused by MySQL (no such variable): idleTransactionLimit tells the operator at startup.
    if (idleTransactionTimeoutS) query(`SET SESSION idle_transaction_timeout = ${Math.floor(idleTransactionTimeoutS)}`, () => undefined);
  });
  return pool;
}

/** The idle-transaction limit this pool's sessions run with, in seconds; null when the server has none (MySQL) or it is off. */
export async function idleTransactionLimit(pool: Pool): Promise<number | null> {
  try {
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT @@SESSION.idle_transaction_timeout AS s');
    const seconds = Number(rows[0]?.s);
    return seconds > 0 ? seconds : null;
  } catch {
    return null;
  }
}

/**
 * A transaction InnoDB picked as a deadlock victim was rolled back whole, so it is simply run
 * again, at once, up to 3 more times. Other errors (a lock wait timeout included) go to the caller.
 */
const deadlockRetry = retry(
  handleWhen((err) => (err as { code?: string }).code === 'ER_LOCK_DEADLOCK'),
  { maxAttempts: 3 },
);
let deadlocks = 0;
deadlockRetry.onRetry(() => deadlocks++);

/** Transactions retried after InnoDB chose them as a deadlock victim, since the process started: the retry hides them otherwise. */
export function deadlockRetries(): number {
  return deadlocks;
}

/** Runs `work` in a transaction on one connection; commits on success, rolls back on error. */
export function inTransaction<T>(pool: Pool, work: (conn: Connection) => Promise<T>): Promise<T> {
  return deadlockRetry.execute(() => runTransaction(pool, work));
}

async function runTransaction<T>(pool: Pool, work: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const result = await work(conn);
    await conn.commit();
    return result;
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

/** True when the database answers a trivial query. */
export async function isReachable(pool: Pool): Promise<boolean> {
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
