import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientMessageId, serializedOutgoingId } from '../../../src/messages/client-id.js';

describe('clientMessageId', () => {
  it('is 3EB0 and the first 18 hex digits, uppercase, of sha256(instance:message)', () => {
    const id = clientMessageId('sales-01', '0b3e1c9e-2f52-4c1a-9d0e-7d1b2a3c4d5e');
    const digest = createHash('sha256').update('sales-01:0b3e1c9e-2f52-4c1a-9d0e-7d1b2a3c4d5e').digest('hex');
    expect(id).toBe(`3EB0${digest.slice(0, 18).toUpperCase()}`);
    expect(id).toMatch(/^3EB0[0-9A-F]{18}$/);
  });

  it('is a known value (stable across versions: rows in the database hold it)', () => {
    expect(clientMessageId('sales-01', 'm-1')).toBe('3EB05E2D1DEB5E9484B1C7');
  });

  it('differs per instance and per message, and the separator keeps "a:bc" apart from "ab:c"', () => {
    const ids = new Set([clientMessageId('a', 'bc'), clientMessageId('ab', 'c'), clientMessageId('a', 'bd'), clientMessageId('b', 'bc')]);
    expect(ids.size).toBe(4);
  });
});

describe('serializedOutgoingId', () => {
  it('is how whatsapp-web.js serializes our own message in a chat', () => {
    expect(serializedOutgoingId('4915112345678@c.us', '3EB0ABCDEF0123456789AB')).toBe('true_4915112345678@c.us_3EB0ABCDEF0123456789AB');
    expect(serializedOutgoingId('120363025246125888@g.us', '3EB0AA')).toBe('true_120363025246125888@g.us_3EB0AA');
  });
});
