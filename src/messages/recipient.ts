import { AppError } from '../errors/index.js';

/*
 * Who a message goes to. WhatsApp Web addresses a person as <digits>@c.us and a group as
 * <digits>[-<digits>]@g.us; a client may also give the bare international number. Everything else
 * (status broadcasts, channels, @s.whatsapp.net ids of other libraries, names) is refused here, at
 * the request, rather than failing in the worker long after the 202.
 */

const PHONE = /^\+?(\d{6,15})$/;
const PERSON = /^\d{6,15}@c\.us$/;
const GROUP = /^\d{6,25}(-\d{6,12})?@g\.us$/;
/** A phone number written with separators: worth its own hint. */
const DECORATED_PHONE = /^\+?[\d\s().-]+$/;
const SEPARATOR = /[\s().-]/;

const ACCEPTED =
  'a phone number in international format (6 to 15 digits, an optional leading +), a chat id <digits>@c.us, or a group id <digits>[-<digits>]@g.us';

/** What is wrong with `to` as a recipient ("must be …"), or null when it is one of the accepted forms. */
export function recipientProblem(to: string): string | null {
  if (PHONE.test(to) || PERSON.test(to) || GROUP.test(to)) return null;
  if (DECORATED_PHONE.test(to) && SEPARATOR.test(to) && /\d/.test(to)) return `must be written as digits only, without spaces, dashes or brackets: ${ACCEPTED}`;
  return `must be ${ACCEPTED}`;
}

/** The chat id a message to `to` goes to; VALIDATION_FAILED when `to` is none of the accepted forms. */
export function toChatId(to: string): string {
  const problem = recipientProblem(to);
  if (problem !== null) throw new AppError('VALIDATION_FAILED', `to ${problem}`);
  const phone = PHONE.exec(to);
  return phone ? `${phone[1]}@c.us` : to;
}
