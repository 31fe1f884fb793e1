import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors/index.js';
import { recipientProblem, toChatId } from '../../../src/messages/recipient.js';

function refusal(to: string): AppError {
  try {
    toChatId(to);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error(`${JSON.stringify(to)} was accepted`);
}

describe('toChatId', () => {
  it.each([
    ['4915112345678', '4915112345678@c.us'],
    ['+4915112345678', '4915112345678@c.us'],
    ['123456', '123456@c.us'],
    ['+123456789012345', '123456789012345@c.us'],
    ['4915112345678@c.us', '4915112345678@c.us'],
    ['120363025246125888@g.us', '120363025246125888@g.us'],
    ['4915112345678-1612345678@g.us', '4915112345678-1612345678@g.us'],
    ['1234567890123456789012345@g.us', '1234567890123456789012345@g.us'],
  ])('%s -> %s', (to, chatId) => {
    expect(toChatId(to)).toBe(chatId);
    expect(recipientProblem(to)).toBeNull();
  });

  it.each([
    '',
    '12345',
    '1234567890123456',
    '++4915112345678',
    '4915112345678+',
    'alice',
    '49151abc45678',
    '4915112345678@s.whatsapp.net',
    '+4915112345678@c.us',
    '12345@c.us',
    '4915112345678@C.US',
    'status@broadcast',
    '120363025246125888@newsletter',
    '12345@g.us',
    '4915112345678-123@g.us',
    '4915112345678@lid',
    ' 4915112345678',
    '4915112345678\n',
  ])('refuses %j as VALIDATION_FAILED naming `to` and what is accepted', (to) => {
    const err = refusal(to);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^to must be /);
    expect(err.message).toContain('international format');
    expect(err.message).toContain('@c.us');
    expect(err.message).toContain('@g.us');
    expect(err.message).not.toContain('\n');
  });

  it.each(['+49 151 12345678', '0151-1234567', '(030) 1234567', '+49.151.12345678'])('tells %j to drop the spaces and punctuation', (to) => {
    expect(refusal(to).message).toMatch(/^to must be written as digits only, without spaces, dashes or brackets: /);
  });

  it('does not echo the refused value (it may be long or hostile)', () => {
    expect(refusal('x'.repeat(10_000)).message.length).toBeLessThan(300);
  });
});
