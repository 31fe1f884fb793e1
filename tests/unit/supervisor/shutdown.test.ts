import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { Shutdown } from '../../../src/supervisor/shutdown.js';
import { silentLogger } from '../../support/logger.js';

function setup(timeoutMs = 1_000) {
  const exits: number[] = [];
  const order: string[] = [];
  const shutdown = new Shutdown({ timeoutMs, log: silentLogger, exit: (code) => exits.push(code) });
  const proc = new EventEmitter();
  shutdown.install(proc as unknown as NodeJS.Process);
  return { shutdown, proc, exits, order };
}

describe('Shutdown', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGBREAK'])('runs every step in order on %s and exits 0', async (signal) => {
    const { shutdown, proc, exits, order } = setup();
    shutdown.add({ name: 'a', run: async () => void order.push('a') }).add({ name: 'b', run: async () => void order.push('b') });
    proc.emit(signal);
    await sleep(20);
    expect(order).toEqual(['a', 'b']);
    expect(exits).toEqual([0]);
  });

  it("takes PM2's shutdown message the same way", async () => {
    const { proc, exits } = setup();
    proc.emit('message', 'shutdown');
    await sleep(20);
    expect(exits).toEqual([0]);
  });

  it('exits 1 after an uncaught exception or an unhandled rejection', async () => {
    for (const event of ['uncaughtException', 'unhandledRejection']) {
      const { proc, exits } = setup();
      proc.emit(event, new Error('boom'));
      await sleep(20);
      expect(exits).toEqual([1]);
    }
  });

  it('does not start a second shutdown on a second signal', async () => {
    const { shutdown, proc, exits, order } = setup();
    shutdown.add({ name: 'slow', run: async () => (order.push('slow'), await sleep(50)) });
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    proc.emit('SIGTERM');
    await sleep(100);
    expect(order).toEqual(['slow']);
    expect(exits).toEqual([0]);
  });

  it('keeps going after a failing step', async () => {
    const { shutdown, exits, order } = setup();
    shutdown.add({ name: 'bad', run: () => Promise.reject(new Error('nope')) }).add({ name: 'next', run: async () => void order.push('next') });
    await shutdown.run('test', 0);
    expect(order).toEqual(['next']);
    expect(exits).toEqual([0]);
  });

  it('gives up when the budget is spent and exits 1', async () => {
    const { shutdown, exits, order } = setup(50);
    shutdown.add({ name: 'hangs', run: () => new Promise(() => undefined) }).add({ name: 'never', run: async () => void order.push('never') });
    await shutdown.run('test', 0);
    expect(order).toEqual([]);
    expect(exits).toEqual([1]);
  });

  it('gives each step the time left in the budget', async () => {
    const { shutdown } = setup(1_000);
    const seen: number[] = [];
    shutdown.add({ name: 'a', run: async (left) => (seen.push(left), await sleep(100)) }).add({ name: 'b', run: async (left) => void seen.push(left) });
    await shutdown.run('test', 0);
    expect(seen[0]).toBeGreaterThan(900);
    expect(seen[1]).toBeLessThan(seen[0]! - 50);
  });
});
