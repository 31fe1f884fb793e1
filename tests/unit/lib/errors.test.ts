import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CodedError, coerceError, deserializeError, isSerializedError, serializeError } from '../../../lib/errors.js';

class BoomError extends CodedError {
  constructor(options?: { cause?: unknown }) {
    super('BOOM', 'it went boom', options);
  }
}

describe('CodedError', () => {
  it('carries its code and message and takes the subclass name', () => {
    const error = new BoomError();
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(CodedError);
    expect(error.code).toBe('BOOM');
    expect(error.message).toBe('it went boom');
    expect(error.name).toBe('BoomError');
  });

  it('keeps a given cause and has no cause property when none is given', () => {
    const root = new Error('root');
    expect(new BoomError({ cause: root }).cause).toBe(root);
    expect('cause' in new BoomError()).toBe(false);
    expect('cause' in new CodedError('X', 'x', {})).toBe(false);
  });
});

describe('coerceError', () => {
  it('returns an Error unchanged', () => {
    const error = new TypeError('bad');
    expect(coerceError(error)).toBe(error);
  });

  it('returns an Error from another realm unchanged', () => {
    const foreign = runInNewContext('new Error("from vm")') as unknown;
    expect(foreign instanceof Error).toBe(false);
    expect(coerceError(foreign)).toBe(foreign);
  });

  it('turns a string into an Error with that message, keeping the string as cause', () => {
    const error = coerceError('plain failure');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('plain failure');
    expect(error.cause).toBe('plain failure');
  });

  it('turns an object with message, name and code into an Error carrying them, keeping the object as cause', () => {
    const thrown = { message: 'connection reset', name: 'SocketError', code: 'ECONNRESET' };
    const error = coerceError(thrown);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('connection reset');
    expect(error.name).toBe('SocketError');
    expect(error.code).toBe('ECONNRESET');
    expect(error.cause).toBe(thrown);
  });

  it('describes an object without a message as JSON', () => {
    const error = coerceError({ status: 500 });
    expect(error.message).toBe('non-error value thrown: {"status":500}');
    expect(error.name).toBe('Error');
    expect(error.code).toBeUndefined();
  });

  it('stringifies a numeric code and ignores codes of other types', () => {
    expect(coerceError({ message: 'm', code: 404 }).code).toBe('404');
    expect(coerceError({ message: 'm', code: { nested: true } }).code).toBeUndefined();
    expect(coerceError({ message: 'm', code: '' }).code).toBeUndefined();
  });

  it('copes with values JSON cannot represent', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(coerceError(circular).message).toBe('non-error value thrown: [object Object]');
    expect(coerceError(10n).message).toBe('10');
    expect(coerceError(undefined).message).toBe('undefined');
    expect(coerceError(null).message).toBe('null');
    expect(coerceError(42).cause).toBe(42);
  });
});

describe('serializeError / deserializeError', () => {
  it('keeps name, message and code of a coded error', () => {
    expect(serializeError(new BoomError())).toEqual({ name: 'BoomError', message: 'it went boom', code: 'BOOM' });
  });

  it('leaves code out when the error has none', () => {
    expect(serializeError(new RangeError('out'))).toEqual({ name: 'RangeError', message: 'out' });
  });

  it('serializes non-errors through coerceError', () => {
    expect(serializeError('nope')).toEqual({ name: 'Error', message: 'nope' });
    expect(serializeError({ code: 7, message: 'seven' })).toEqual({ name: 'Error', message: 'seven', code: '7' });
  });

  it('produces a plain JSON-safe object', () => {
    const serialized = serializeError(new BoomError({ cause: new Error('inner') }));
    expect(JSON.parse(JSON.stringify(serialized))).toEqual(serialized);
  });

  it('round-trips to an Error with the same name, message and code', () => {
    const restored = deserializeError(serializeError(new BoomError()));
    expect(restored).toBeInstanceOf(Error);
    expect(restored.name).toBe('BoomError');
    expect(restored.message).toBe('it went boom');
    expect(restored.code).toBe('BOOM');
    expect(String(restored)).toBe('BoomError: it went boom');
  });

  it('restores an error without code without inventing one', () => {
    const restored = deserializeError({ name: 'TypeError', message: 'x' });
    expect('code' in restored).toBe(false);
  });
});

describe('isSerializedError', () => {
  it.each([
    [{ name: 'E', message: 'm' }, true],
    [{ name: 'E', message: 'm', code: 'C' }, true],
    [{ name: 'E', message: 'm', code: 1 }, false],
    [{ name: 'E' }, false],
    [{ message: 'm' }, false],
    ['E: m', false],
    [null, false],
  ])('%j -> %s', (value, expected) => {
    expect(isSerializedError(value)).toBe(expected);
  });
});
