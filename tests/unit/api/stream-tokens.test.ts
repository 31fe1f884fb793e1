import { describe, expect, it } from 'vitest';
import { StreamTokens } from '../../../src/api/routes/events.js';

describe('StreamTokens', () => {
  it('opens one stream per token: the first check spends it', () => {
    const tokens = new StreamTokens(60_000);
    const { token } = tokens.issue(0);
    expect(tokens.consume(token, 1)).toBe(true);
    expect(tokens.consume(token, 2)).toBe(false);
  });

  it('refuses a token at and after its expiry, and forgets it', () => {
    const tokens = new StreamTokens(1000);
    const a = tokens.issue(0);
    const b = tokens.issue(0);
    expect(a.expiresAt.getTime()).toBe(1000);
    expect(tokens.consume(a.token, 999)).toBe(true);
    expect(tokens.consume(b.token, 1000)).toBe(false);
    expect(tokens.outstanding).toBe(0);
  });

  it('refuses what is not a string or was never issued', () => {
    const tokens = new StreamTokens(1000);
    tokens.issue(0);
    for (const forged of [undefined, null, 42, ['x'], '', 'forged']) expect(tokens.consume(forged, 1)).toBe(false);
  });

  it('keeps at most its bound of unused tokens, dropping the oldest first', () => {
    const tokens = new StreamTokens(60_000, 3);
    const issued = [0, 1, 2, 3, 4].map((t) => tokens.issue(t).token);
    expect(tokens.outstanding).toBe(3);
    expect(tokens.consume(issued[0], 5)).toBe(false);
    expect(tokens.consume(issued[1], 5)).toBe(false);
    expect(issued.slice(2).map((t) => tokens.consume(t, 5))).toEqual([true, true, true]);
  });

  it('drops expired tokens when issuing, so an idle flood does not pile up', () => {
    const tokens = new StreamTokens(10);
    for (let t = 0; t < 100; t++) tokens.issue(t * 20);
    expect(tokens.outstanding).toBe(1);
  });
});
