import { describe, expect, it } from 'vitest';
import { unrecordedChanges, type Announced } from '../../../scripts/chaos/announced.js';

const said = (...pairs: Array<[string, string]>): Announced[] => pairs.map(([instanceId, status], at) => ({ instanceId, status, at }));

describe('unrecordedChanges', () => {
  it('passes when every announced change is recorded in order, among other recorded changes', () => {
    const recorded = new Map([['a', ['DISCONNECTED', 'INITIALIZING', 'QR_REQUIRED', 'CONNECTED', 'RECONNECTING', 'CONNECTED']]]);
    expect(unrecordedChanges(said(['a', 'RECONNECTING'], ['a', 'CONNECTED']), recorded)).toEqual({ violations: [], checked: 2 });
  });

  it('fails a change announced but never recorded', () => {
    const recorded = new Map([['a', ['CONNECTED', 'RECONNECTING', 'CONNECTED']]]);
    const { violations } = unrecordedChanges(said(['a', 'RECONNECTING'], ['a', 'INITIALIZING'], ['a', 'CONNECTED']), recorded);
    expect(violations).toEqual(['a: announced change #2 to INITIALIZING (of 3) is not in its recorded events in order']);
  });

  it('fails changes recorded in another order than announced', () => {
    const recorded = new Map([['a', ['CONNECTED', 'RECONNECTING']]]);
    expect(unrecordedChanges(said(['a', 'RECONNECTING'], ['a', 'CONNECTED']), recorded).violations).toHaveLength(1);
  });

  it('fails an instance with no recorded history, and counts what it checked', () => {
    expect(unrecordedChanges(said(['b', 'CONNECTED']), new Map())).toEqual({ violations: ['b: announced change #1 to CONNECTED (of 1) is not in its recorded events in order'], checked: 1 });
  });
});
