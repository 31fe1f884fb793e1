import { createHash } from 'node:crypto';

/*
 * The WhatsApp message id a message is sent under. WhatsApp Web ids of messages sent from the web
 * client start with 3EB0; deriving the rest from our own id makes it known before the send, so
 * after any crash (ours, the worker's, the browser's) the chat can be searched for exactly this
 * id before a retry, and a retry reuses it.
 */

/** '3EB0' + the first 18 hex digits (uppercase) of sha256(instanceId + ':' + messageId). */
export function clientMessageId(instanceId: string, messageId: string): string {
  const digest = createHash('sha256').update(`${instanceId}:${messageId}`).digest('hex');
  return `3EB0${digest.slice(0, 18).toUpperCase()}`;
}

/** The serialized id whatsapp-web.js gives our own message with id `waId` in `chatId`. */
export function serializedOutgoingId(chatId: string, waId: string): string {
  return `true_${chatId}_${waId}`;
}
