import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB');
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('DELETE FROM counters');
  await db.pool.query('INSERT INTO counters VALUES (1, 0), (2, 0)');
});

async function counters(): Promise<number[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT n FROM counters ORDER BY id');
  return rows.map((r) => Number(r.n));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('inTransaction', () => {
  it('runs a deadlock victim again, so both transactions commit', async () => {
    // Each transaction locks its own row, waits for the other to do the same, then asks for the
    // other's row: InnoDB rolls one back with ER_LOCK_DEADLOCK.
    const locked = [deferred(), deferred()] as const;
    const runs = [0, 0];
    const bothRows = (me: 0 | 1) =>
      inTransaction(db.pool, async (conn) => {
        runs[me]!++;
        await conn.query('UPDATE counters SET n = n + 1 WHERE id = ?', [me + 1]);
        if (runs[me] === 1) {
          locked[me].resolve();
          await locked[1 - me]!.promise;
        }
        await conn.query('UPDATE counters SET n = n + 1 WHERE id = ?', [2 - me]);
      });
    await Promise.all([bothRows(0), bothRows(1)]);
    expect([...runs].sort()).toEqual([1, 2]);
    expect(await counters()).toEqual([2, 2]);
  });

  it('gives up after 3 more tries of a transaction that keeps deadlocking, rolling each back', async () => {
    let calls = 0;
    const outcome = inTransaction(db.pool, async (conn) => {
      calls++;
      await conn.query('UPDATE counters SET n = n + 1 WHERE id = 1');
      throw coded('ER_LOCK_DEADLOCK');
    });
    await expect(outcome).rejects.toMatchObject({ code: 'ER_LOCK_DEADLOCK' });
    expect(calls).toBe(4);
    expect(await counters()).toEqual([0, 0]);
  });

  it.each(['ER_LOCK_WAIT_TIMEOUT', 'ER_DUP_ENTRY'])('does not run a transaction again after %s', async (code) => {
    let calls = 0;
    const outcome = inTransaction(db.pool, async () => {
      calls++;
      throw coded(code);
    });
    await expect(outcome).rejects.toMatchObject({ code });
    expect(calls).toBe(1);
  });
});
