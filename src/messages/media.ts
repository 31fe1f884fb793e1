import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AppError } from '../errors/index.js';
import { ForbiddenAddressError, guardedLookup, ipLiteral, publicAddresses, systemResolver, type ResolveHost } from '../webhooks/address-guard.js';

/*
 * The media a message may carry: which types, how it arrives (base64 in the request, or a URL
 * fetched once when the message is accepted), and how large. Everything is checked before the
 * message is committed, so the queue only ever holds media the worker can send.
 */

/** The types WhatsApp delivers as a file, a picture, a voice note or a video (README: "Sending media"). */
/** The media types wa-fleet sends, with the extension a document of that type is named with when it came without a name. */
const EXTENSIONS: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/csv': 'csv',
  'application/zip': 'zip',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'application/vnd.ms-excel': 'xls',
  'audio/mpeg': 'mp3',
  'audio/ogg': 'ogg',
  'video/mp4': 'mp4',
};

export const MEDIA_TYPES: readonly string[] = Object.keys(EXTENSIONS);

/**
 * The file name a message's media is sent with: its own, or for a document that has none
 * `file.<ext>` (WhatsApp shows a document by its name; the library would send "undefined").
 * Images carry no name in WhatsApp.
 */
export function sendFilename(mimetype: string, filename: string | null): string | null {
  if (filename || mimetype.startsWith('image/')) return filename;
  return `file.${EXTENSIONS[mimetype] ?? 'bin'}`;
}

/** `type/subtype` in lower case, without parameters (`; charset=…`); null for nothing. */
export function bareMimetype(value: string | null | undefined): string | null {
  const bare = value?.split(';')[0]!.trim().toLowerCase();
  return bare ? bare : null;
}

/** The allowed type `m` names (normalized: lower case, no parameters); MEDIA_TYPE_UNSUPPORTED otherwise. */
export function checkMimetype(m: string | null): string {
  const type = bareMimetype(m);
  if (type === null) throw new AppError('MEDIA_TYPE_UNSUPPORTED', `the media has no type; give media.mimetype, one of ${MEDIA_TYPES.join(', ')}`);
  if (!MEDIA_TYPES.includes(type)) {
    throw new AppError('MEDIA_TYPE_UNSUPPORTED', `media type "${type.slice(0, 127)}" is not one wa-fleet sends; accepted: ${MEDIA_TYPES.join(', ')}`);
  }
  return type;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('MEDIA_TOO_LARGE', `the media is over ${maxBytes} bytes (MESSAGE_MEDIA_MAX_MB)`);
}

const DATA_URL = /^data:[^,]*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The bytes of base64 `data` (standard alphabet, padded; a `data:…;base64,` prefix is allowed).
 * The size is judged from the text's length before anything is decoded or even scanned, so an
 * oversized body costs no second copy.
 */
export function decodeBase64Media(data: string, maxBytes: number): Buffer {
  const text = data.replace(DATA_URL, '');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (Math.floor(text.length / 4) * 3 - padding > maxBytes) throw tooLarge(maxBytes);
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new AppError('VALIDATION_FAILED', 'media.base64 must be non-empty standard base64 (A-Z a-z 0-9 + /, padded with =, no spaces or line breaks)');
  }
  return Buffer.from(text, 'base64');
}

/** A file name safe to hand on: its last path segment, no control characters, at most 255 characters; null when nothing is left. */
export function safeFilename(raw: string): string | null {
  const name = (raw.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return name === '' || name === '.' || name === '..' ? null : name;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The file name a Content-Disposition header gives (RFC 6266: `filename*` before `filename`), or else the URL's last path segment. */
export function filenameOf(contentDisposition: string | undefined, url: URL): string | null {
  if (contentDisposition) {
    const extended = /filename\*\s*=\s*[^']*'[^']*'([^;\s]+)/i.exec(contentDisposition);
    if (extended) return safeFilename(decoded(extended[1]!));
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(contentDisposition);
    if (plain) return safeFilename(plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!);
  }
  return safeFilename(decoded(url.pathname.split('/').pop() ?? ''));
}

export interface FetchedMedia {
  data: Buffer;
  mimetype: string | null;
  filename: string | null;
}

export interface FetchMediaOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Refuse loopback, private, link-local, CGNAT and metadata addresses: for a URL an instance's own key gave. */
  guardPrivate: boolean;
  /** How host names resolve when guarded (tests inject one; default: the system resolver). */
  resolve?: ResolveHost;
}

function fetchFailed(reason: string): AppError {
  return new AppError('MEDIA_FETCH_FAILED', `the media URL did not deliver a file: ${reason}`);
}

/** A network error as a short reason, without addresses or a stack. */
function networkReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
  };
  if (typeof code === 'string') return known[code] ? `${known[code]} (${code})` : code;
  return 'network error';
}

/**
 * Downloads a message's media from `url`, once, when the message is accepted. Uses node's http
 * client rather than fetch, so that a guarded request connects to the very addresses the guard
 * checked (guardedLookup: a name cannot rebind to a private address between check and connect).
 * Redirects are refused, not followed: the target of one would escape the check. The body is
 * counted as it streams, whatever Content-Length claims, and the download stops past maxBytes.
 */
export async function fetchMedia(url: string, opts: FetchMediaOptions): Promise<FetchedMedia> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new AppError('VALIDATION_FAILED', 'media.url must be an http or https URL');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new AppError('VALIDATION_FAILED', 'media.url must be an http or https URL');
  const resolve = opts.resolve ?? systemResolver;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  try {
    // An IP literal never reaches a lookup: it is checked here.
    if (opts.guardPrivate && ipLiteral(target.hostname) !== null) await publicAddresses(target.hostname, resolve);
    const response = await send(target, opts.guardPrivate ? resolve : null, controller.signal);
    try {
      return await receive(response, target, opts.maxBytes);
    } finally {
      response.destroy();
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof ForbiddenAddressError) {
      if (err.addressClass === 'unresolvable') throw fetchFailed(err.message);
      throw new AppError('MEDIA_URL_FORBIDDEN', `media.url may not be fetched: ${err.message}`);
    }
    if (timedOut) throw fetchFailed(`no complete answer within ${opts.timeoutMs} ms`);
    throw fetchFailed(networkReason(err));
  } finally {
    clearTimeout(timer);
  }
}

function send(target: URL, guardWith: ResolveHost | null, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      target,
      {
        method: 'GET',
        // Compressed bytes would be counted and stored as the file: ask for the file itself.
        headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'wa-fleet' },
        signal,
        agent: false,
        ...(guardWith ? { lookup: guardedLookup(guardWith) as never } : {}),
      },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

async function receive(response: IncomingMessage, target: URL, maxBytes: number): Promise<FetchedMedia> {
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400) throw fetchFailed(`it answered HTTP ${status}, a redirect (redirects are not followed: give the file's own URL)`);
  if (status < 200 || status > 299) throw fetchFailed(`it answered HTTP ${status}`);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) throw fetchFailed('the answer had an empty body');
  return {
    data: Buffer.concat(chunks, size),
    mimetype: bareMimetype(response.headers['content-type']),
    filename: filenameOf(response.headers['content-disposition'], target),
  };
}
