import { createHash } from 'node:crypto';
import { z } from 'zod';
import { bareMimetype } from './media.js';
import { recipientProblem, toChatId } from './recipient.js';

/*
 * The body of POST /api/instance/:id/messages, and the fingerprint that tells a retried request
 * (same Idempotency-Key, same content: answered with the first message) from a different request
 * reusing a key (refused). Shapes are checked here; whether the media type is allowed, how large
 * the media is and whether its URL may be fetched are checked by src/messages/media.ts.
 */

const SERIALIZED_ID = /^(true|false)_[^\s_]+@[a-z.]+_[A-Za-z0-9]+(_[^\s_]+@[a-z.]+)?$/;
const UNSAFE_FILENAME = /[/\\\u0000-\u001f\u007f]/;

const mediaSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).optional().meta({ description: 'Where wa-fleet downloads the file, once, when the message is accepted.' }),
    base64: z.string().min(1).optional().meta({ description: 'The file itself, base64 (a data: URL prefix is allowed).' }),
    mimetype: z.string().min(1).max(127).optional().meta({ description: 'The file type; required with base64, else taken from the download.', example: 'application/pdf' }),
    filename: z
      .string()
      .min(1)
      .max(255)
      .refine((name) => !UNSAFE_FILENAME.test(name), 'must not contain / or \\ or control characters')
      .optional()
      .meta({ description: 'The name the recipient sees for a document.', example: 'invoice-42.pdf' }),
  })
  .superRefine((m, ctx) => {
    if ((m.url === undefined) === (m.base64 === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of url or base64' });
    if (m.base64 !== undefined && m.mimetype === undefined) ctx.addIssue({ code: 'custom', path: ['mimetype'], message: 'is required with base64' });
  });

export const sendBodySchema = z
  .strictObject({
    to: z
      .string()
      .superRefine((to, ctx) => {
        const problem = recipientProblem(to);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ description: 'A phone number in international format (digits, optional +), a chat id <digits>@c.us or a group id …@g.us.', example: '+4915112345678' }),
    text: z
      .string()
      .min(1)
      .max(65_536)
      .refine((text) => text.trim() !== '', 'must not be only whitespace')
      .optional()
      .meta({ description: 'The message text, sent as is (not trimmed).' }),
    media: mediaSchema.optional(),
    caption: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .meta({ description: 'The text under a media message.' }),
    replyTo: z
      .string()
      .max(200)
      .regex(SERIALIZED_ID, 'must be a serialized WhatsApp message id, like true_<chat>_<id> or false_<chat>_<id>')
      .optional()
      .meta({ description: 'The message this one quotes.', example: 'false_4915112345678@c.us_3EB0C0FFEE1234567890AB' }),
  })
  .superRefine((b, ctx) => {
    if ((b.text === undefined) === (b.media === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of text or media' });
    if (b.caption !== undefined && b.media === undefined) ctx.addIssue({ code: 'custom', path: ['caption'], message: 'is only allowed with media' });
  });

export type SendBody = z.infer<typeof sendBodySchema>;

/**
 * sha256 (hex) of the request as wa-fleet understands it: the chat it goes to (so +4915… and
 * 4915…@c.us are one request), its text or caption, the message it quotes, and its media by URL,
 * type, name and content. `mediaSha256` is the sha256 of the media bytes when known (base64, or a
 * completed download); base64 media without it is identified by the sha256 of its text. Objects
 * are built in a fixed key order, so their JSON is canonical.
 */
export function requestHash(instanceId: string, body: SendBody, mediaSha256: string | null): string {
  const media = body.media;
  const canonical = {
    instanceId,
    chatId: toChatId(body.to),
    text: body.text ?? null,
    caption: body.caption ?? null,
    replyTo: body.replyTo ?? null,
    media: media
      ? {
          url: media.url ?? null,
          mimetype: bareMimetype(media.mimetype),
          filename: media.filename ?? null,
          sha256: mediaSha256 ?? (media.base64 !== undefined ? createHash('sha256').update(media.base64).digest('hex') : null),
        }
      : null,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
