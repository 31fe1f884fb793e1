import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  FLEET_EVENT_NAMES,
  FleetEventBus,
  SEVERITY,
  type FleetEventArgs,
  type FleetEventName,
  type QrCodeUpdatedEvent,
} from '../../../src/supervisor/event-bus.js';

const at = new Date('2025-01-01T00:00:00Z');
const qrEvent = { instanceId: 'a', qr: '2@abc', at };
const connectionEvent = { instanceId: 'a', status: 'CONNECTED', previous: 'LOADING', reason: null, at } as const;

function newBus() {
  const errors: { error: unknown; name: FleetEventName }[] = [];
  const bus = new FleetEventBus({ onListenerError: (error, name) => errors.push({ error, name }) });
  return { bus, errors };
}

describe('FleetEventBus: subscribing', () => {
  it('delivers a typed payload to the listeners of that event only', () => {
    const { bus } = newBus();
    const qrs: QrCodeUpdatedEvent[] = [];
    const connections: string[] = [];
    bus.on('qrcode.updated', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<QrCodeUpdatedEvent>();
      qrs.push(payload);
    });
    bus.on('connection.update', (payload) => connections.push(`${payload.previous} → ${payload.status}`));

    bus.emit('qrcode.updated', qrEvent);
    bus.emit('connection.update', connectionEvent);

    expect(qrs).toEqual([qrEvent]);
    expect(connections).toEqual(['LOADING → CONNECTED']);
  });

  it('calls listeners in subscription order, and the same function twice when subscribed twice', () => {
    const { bus } = newBus();
    const calls: string[] = [];
    const first = () => void calls.push('first');
    bus.on('remove.instance', first);
    bus.on('remove.instance', () => void calls.push('second'));
    bus.on('remove.instance', first);
    bus.emit('remove.instance', { instanceId: 'a', at });
    expect(calls).toEqual(['first', 'second', 'first']);
  });

  it('the returned function unsubscribes, and calling it again is harmless', () => {
    const { bus } = newBus();
    const calls: string[] = [];
    const unsubscribe = bus.on('qrcode.updated', (p) => void calls.push(p.qr));
    bus.emit('qrcode.updated', qrEvent);
    unsubscribe();
    unsubscribe();
    bus.emit('qrcode.updated', qrEvent);
    expect(calls).toEqual(['2@abc']);
    expect(bus.listenerCount()).toBe(0);
  });

  it('off removes one subscription of the listener', () => {
    const { bus } = newBus();
    let calls = 0;
    const listener = () => void calls++;
    bus.on('no.connection', listener);
    bus.on('no.connection', listener);
    bus.off('no.connection', listener);
    bus.emit('no.connection', { instanceId: 'a', reason: 'x', at });
    expect(calls).toBe(1);
    bus.off('no.connection', listener);
    bus.off('no.connection', listener);
    expect(bus.listenerCount('no.connection')).toBe(0);
  });

  it('once runs a single time, also when it throws or when an emit is nested inside another listener', () => {
    const { bus, errors } = newBus();
    let calls = 0;
    let nested = false;
    bus.on('logout.instance', () => {
      if (nested) return;
      nested = true;
      bus.emit('logout.instance', { instanceId: 'a', reason: 'nested', at });
    });
    bus.once('logout.instance', () => {
      calls++;
      throw new Error('boom');
    });
    bus.emit('logout.instance', { instanceId: 'a', reason: 'LOGOUT', at });
    bus.emit('logout.instance', { instanceId: 'a', reason: 'LOGOUT', at });
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(bus.listenerCount('logout.instance')).toBe(1);
  });

  it('an unsubscribe during an emit affects the next emit, not the one in progress', () => {
    const { bus } = newBus();
    const calls: string[] = [];
    let unsubscribeSecond = () => {};
    bus.on('remove.instance', () => {
      calls.push('first');
      unsubscribeSecond();
    });
    unsubscribeSecond = bus.on('remove.instance', () => void calls.push('second'));
    bus.emit('remove.instance', { instanceId: 'a', at });
    bus.emit('remove.instance', { instanceId: 'a', at });
    expect(calls).toEqual(['first', 'second', 'first']);
  });
});

describe('FleetEventBus: no listener leaks', () => {
  it('a thousand subscribe/unsubscribe cycles over every event leave no listener', () => {
    const { bus } = newBus();
    for (let i = 0; i < 1000; i++) {
      const name = FLEET_EVENT_NAMES[i % FLEET_EVENT_NAMES.length]!;
      const unsubscribers = [bus.on(name, () => {}), bus.once(name, () => {}), bus.onAny(() => {})];
      expect(bus.listenerCount(name)).toBe(3);
      for (const unsubscribe of unsubscribers) unsubscribe();
    }
    expect(bus.listenerCount()).toBe(0);
    for (const name of FLEET_EVENT_NAMES) expect(bus.listenerCount(name)).toBe(0);
  });

  it('a once listener that fired is gone', () => {
    const { bus } = newBus();
    bus.once('qrcode.updated', () => {});
    expect(bus.listenerCount('qrcode.updated')).toBe(1);
    bus.emit('qrcode.updated', qrEvent);
    expect(bus.listenerCount()).toBe(0);
  });

  it('listenerCount(name) counts what an emit of it would call; without a name, every subscription', () => {
    const { bus } = newBus();
    bus.on('qrcode.updated', () => {});
    bus.on('memory.alert', () => {});
    bus.onAny(() => {});
    expect(bus.listenerCount('qrcode.updated')).toBe(2);
    expect(bus.listenerCount('status.instance')).toBe(1);
    expect(bus.listenerCount()).toBe(3);
  });
});

describe('FleetEventBus: a failing listener is isolated', () => {
  it('a throwing listener goes to onListenerError and the others still run', () => {
    const { bus, errors } = newBus();
    const boom = new Error('listener bug');
    const calls: string[] = [];
    bus.on('qrcode.updated', () => void calls.push('before'));
    bus.on('qrcode.updated', () => {
      throw boom;
    });
    bus.on('qrcode.updated', () => void calls.push('after'));
    bus.onAny((name) => void calls.push(`any:${name}`));

    expect(() => bus.emit('qrcode.updated', qrEvent)).not.toThrow();
    expect(calls).toEqual(['before', 'after', 'any:qrcode.updated']);
    expect(errors).toEqual([{ error: boom, name: 'qrcode.updated' }]);
  });

  it('a rejecting async listener goes to onListenerError instead of becoming an unhandled rejection', async () => {
    const { bus, errors } = newBus();
    const boom = new Error('async bug');
    bus.on('memory.alert', async () => {
      throw boom;
    });
    bus.emit('memory.alert', { instanceId: null, level: 'warn', message: 'high rss', at });
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([{ error: boom, name: 'memory.alert' }]);
  });

  it('an onListenerError that throws still does not reach the emitter', () => {
    const bus = new FleetEventBus({
      onListenerError: () => {
        throw new Error('reporter bug');
      },
    });
    let after = false;
    bus.on('remove.instance', () => {
      throw new Error('listener bug');
    });
    bus.on('remove.instance', () => void (after = true));
    expect(() => bus.emit('remove.instance', { instanceId: 'a', at })).not.toThrow();
    expect(after).toBe(true);
  });
});

describe('FleetEventBus: onAny', () => {
  it('receives every event with its name, after the named listeners, and narrows by name', () => {
    const { bus } = newBus();
    const seen: FleetEventArgs[] = [];
    const qrs: string[] = [];
    const order: string[] = [];
    bus.on('qrcode.updated', () => void order.push('named'));
    const unsubscribe = bus.onAny((name, payload) => {
      order.push('any');
      seen.push([name, payload] as FleetEventArgs);
      if (name === 'qrcode.updated') qrs.push(payload.qr);
    });

    bus.emit('qrcode.updated', qrEvent);
    bus.emit('connection.update', connectionEvent);
    unsubscribe();
    bus.emit('remove.instance', { instanceId: 'a', at });

    expect(order).toEqual(['named', 'any', 'any']);
    expect(seen).toEqual([
      ['qrcode.updated', qrEvent],
      ['connection.update', connectionEvent],
    ]);
    expect(qrs).toEqual(['2@abc']);
  });
});

describe('SEVERITY', () => {
  it('gives every event its default severity', () => {
    expect(SEVERITY).toEqual({
      'reconnect.failed': 'HIGH',
      'logout.instance': 'HIGH',
      'no.connection': 'MEDIUM',
      'remove.instance': 'MEDIUM',
      'instance.health': 'MEDIUM',
      'memory.alert': 'MEDIUM',
      'recovery.step': 'MEDIUM',
      'connection.update': 'LOW',
      'qrcode.updated': 'LOW',
      'status.instance': 'LOW',
      'message.received': 'LOW',
      'message.status': 'LOW',
      'message.ack': 'LOW',
      'node.down': 'HIGH',
      'instance.moved': 'MEDIUM',
    });
    expect([...FLEET_EVENT_NAMES].sort()).toEqual(Object.keys(SEVERITY).sort());
  });
});
