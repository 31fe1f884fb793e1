import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import type { ClientOptions } from 'whatsapp-web.js';

/**
 * The fake WhatsApp Web page (page.html) served to the real whatsapp-web.js through its own
 * local web-version cache. Imported by the e2e tests and by the production worker in demo mode,
 * so nothing here may depend on a test framework.
 */

/** The `webVersion` the Client asks for; also what the page reports as `window.Debug.VERSION`. */
export const FAKE_WEB_VERSION = '2.3000.0-fake';

/** Absolute path of the page template. */
export const FAKE_PAGE_PATH = fileURLToPath(new URL('./page.html', import.meta.url));

const VERSION_PLACEHOLDER = '__FAKE_WEB_VERSION__';

/** Scenario for one page load, read from `window.__FAKE_WA_CONFIG` (see README.md). */
export interface FakeWaConfig {
  /** Stay in this Socket state from boot on (e.g. 'OPENING': initialize() never settles). */
  hold?: string | null;
  /** Never define Debug.VERSION, so initialize() rejects with 'auth timeout'. */
  failInit?: boolean;
  /** The first N boots of this profile (counted in its IndexedDB) fail like failInit. */
  failInits?: number;
  /** Time spent in OPENING before UNPAIRED (QR) or CONNECTED (saved pairing). Default 200. */
  openingMs?: number;
  /** Delay between the library's hasSynced listener appearing and hasSynced. Default 50. */
  syncMs?: number;
  /** Scan the QR by itself this long after showing it; 0 (default) never. */
  autoScanMs?: number;
  /** Rotate the QR (a new `qr` event) this often while unpaired; 0 (default) never. */
  qrRotateMs?: number;
  /** Delay between Cmd 'logout' and the navigation home. Default 300. */
  logoutNavigateMs?: number;
  /** The paired account's phone number (wid `<phone>@c.us`) after scan(). */
  phone?: string;
  /** The paired account's push name. */
  pushname?: string;
  /** Patches applied on a given boot number of this profile, e.g. `{ 1: { hold: 'OPENING' } }`. */
  perBoot?: Record<string, Omit<FakeWaConfig, 'perBoot'>> | null;
}

/** What `window.__fake.status()` returns: a plain JSON snapshot of the page. */
export interface FakeWaStatus {
  version: string;
  /** How many times this profile loaded the page (persistent, 1-based). */
  boot: number;
  /** This load withheld Debug.VERSION (failInit/failInits/failNextInits). */
  failedInit: boolean;
  state: string;
  hasSynced: boolean;
  paired: boolean;
  wid: string | null;
  qrRef: string | null;
  qrCount: number;
  pairingCode: string | null;
  held: string | null;
  heldMb: number;
  queuedBoots: number;
  /** Listener counts; `messages` is the library's Msg 'add' listener (1 once it attached, just before `ready`). */
  listeners: { state: number; hasSynced: number; ref: number; messages: number };
  /** The library attached its message listeners on this page load and `ready` has been emitted. */
  libraryReady: boolean;
  /** Records in `sent()` (this profile, all boots). */
  sentCount: number;
  /** Messages (receive/fromPhone) stored but not yet delivered to the library. */
  pendingInbound: number;
  /** Modes queued by failNextSends(), next first. */
  sendFaults: SendFaultMode[];
  config: FakeWaConfig;
}

/** Media of a send, as it reached the fake WhatsApp. */
export interface SentMedia {
  mimetype: string;
  /** Documents only (images, video and audio carry no file name); null otherwise. */
  filename: string | null;
  /** Bytes uploaded (decoded, not base64). */
  size: number;
  /** Hex SHA-256 of those bytes. */
  sha256: string;
}

/** One send that reached the fake WhatsApp, as `window.__fake.sent()` lists it (arrival order). */
export interface SentRecord {
  /** Serialized message id, `true_<chatId>_<waId>`: what the library's Message.id._serialized is. */
  id: string;
  /** The key's own id (`3EB0` + 18 hex unless a caller replaced WAWebMsgKey.newId). */
  waId: string;
  chatId: string;
  /** 'chat' for text; 'image', 'document', 'video', 'audio', 'ptt' for media. */
  type: string;
  /** Text of a text message; null for media. */
  body: string | null;
  caption: string | null;
  /** Serialized id of the quoted message (a reply), or null. */
  quotedId: string | null;
  media: SentMedia | null;
  /** Epoch ms when the record became durable. */
  at: number;
  /** The page load (status().boot) that recorded it. */
  boot: number;
  /** On the entries of a second, third … arrival of the same id (a resend): its number, from 2. */
  repeat?: number;
}

/** Media of an inbound message. */
export interface InboundMedia {
  mimetype: string;
  filename?: string;
  /** Base64 of the bytes; msg.downloadMedia() gives them back. */
  data: string;
}

/** A message to the linked account, for `receive()`. */
export interface ReceiveOptions {
  /** Sender: digits (a phone number, `<digits>@c.us`) or a chat id (`<id>@g.us` needs `author`). */
  from: string;
  /** Text, or the caption when `media` is given. */
  body?: string;
  /** The key's id; default `3A` + 18 uppercase hex. */
  id?: string;
  /** Default 'chat', or the media's kind (image/video/audio/document) from its mimetype. */
  type?: string;
  /** Serialized id of a message on this page that this one replies to. */
  quotedId?: string;
  media?: InboundMedia;
  /** Hold it for the library's next `ready` (the next page load when the library is already attached). */
  offline?: boolean;
  /** Group messages: the member who wrote (digits or `<digits>@c.us`). */
  author?: string;
}

/** A message the linked phone itself sent, for `fromPhone()`. */
export interface FromPhoneOptions {
  /** The chat: digits or a chat id. */
  to: string;
  body?: string;
  id?: string;
  type?: string;
  quotedId?: string;
  media?: InboundMedia;
  offline?: boolean;
}

/** -1 error, 0 pending, 1 server, 2 device, 3 read, 4 played. */
export type MessageAckValue = -1 | 0 | 1 | 2 | 3 | 4;

export type SendFaultMode = 'hang-before-record' | 'hang-after-record' | 'reject';

export interface SendFaults {
  mode: SendFaultMode;
  /** How many of the next sends (this page load only). Default 1. */
  count?: number;
  /** The rejection's message for mode 'reject'. */
  message?: string;
}

/** The control object the page exposes as `window.__fake` (README.md says what each one causes). */
export interface FakeWaControl {
  status(): FakeWaStatus;
  // Actions returning void are checked at once (a wrong state throws) and applied in the next task.
  scan(): void;
  enterPairingCode(code?: string): void;
  rotateQr(): void;
  setState(state: string): void;
  conflict(): void;
  unpair(): void;
  logout(): void;
  hold(state?: string): void;
  resume(): void;
  freeze(ms?: number): void;
  crash(): void;
  allocMb(n: number): FakeWaStatus;
  release(): FakeWaStatus;
  nextBoots(patches: Array<Omit<FakeWaConfig, 'perBoot'>>): Promise<FakeWaStatus>;
  failNextInits(n: number): Promise<FakeWaStatus>;
  // Messages: these act at once.
  /** Every send that reached the fake WhatsApp on this profile, in arrival order. */
  sent(): Promise<SentRecord[]>;
  /** A message to the linked account; resolves once stored, with its serialized id `false_<chatId>_<id>`. */
  receive(options: ReceiveOptions): Promise<{ id: string }>;
  /** A message the linked phone sent (fromMe): `message_create` only. Id `true_<chatId>_<id>`. */
  fromPhone(options: FromPhoneOptions): Promise<{ id: string }>;
  /** Sets a message's ack (the library emits message_ack); an unknown id throws. */
  ack(id: string, ack: MessageAckValue): Promise<{ id: string; ack: number }>;
  /** Makes the next sends of this page load hang or fail (see README.md). */
  failNextSends(faults: SendFaults): FakeWaStatus;
}

/** Calls `window.__fake[method](...args)` in the page; rejects when the page cannot answer. */
export async function callFake<M extends keyof FakeWaControl>(
  page: Page,
  method: M,
  ...args: Parameters<FakeWaControl[M]>
): Promise<Awaited<ReturnType<FakeWaControl[M]>>> {
  const result = await page.evaluate(
    (name, params) => {
      const control = (window as unknown as { __fake?: Record<string, (...a: unknown[]) => unknown> }).__fake;
      if (!control) throw new Error('window.__fake is not defined: this is not the fake WhatsApp Web page');
      return control[name](...params);
    },
    method,
    args as unknown[],
  );
  return result as Awaited<ReturnType<FakeWaControl[M]>>;
}

/** The Client options that make whatsapp-web.js load the fake page. */
export type FakeClientOptions = Required<Pick<ClientOptions, 'webVersion' | 'webVersionCache' | 'evalOnNewDoc'>>;

/** Writes the page as `<dir>/<FAKE_WEB_VERSION>.html`, where LocalWebCache looks for it. */
export function writeFakeWebCache(dir: string): { webVersion: string; cachePath: string } {
  mkdirSync(dir, { recursive: true });
  const html = readFileSync(FAKE_PAGE_PATH, 'utf8').replaceAll(VERSION_PLACEHOLDER, FAKE_WEB_VERSION);
  const cachePath = join(dir, `${FAKE_WEB_VERSION}.html`);
  writeFileSync(cachePath, html);
  return { webVersion: FAKE_WEB_VERSION, cachePath };
}

/** Source that sets `window.__FAKE_WA_CONFIG` before the page's own script runs. */
export function fakeConfigScript(config: FakeWaConfig = {}): string {
  return `window.__FAKE_WA_CONFIG = ${JSON.stringify(config)};`;
}

/**
 * Writes the page into `cacheDir` and returns the Client option fragment that serves it:
 * `strict: true` turns a missing page into an error instead of a silent trip to the real site.
 */
export function fakeClientOptions(cacheDir: string, config: FakeWaConfig = {}): FakeClientOptions {
  const { webVersion } = writeFakeWebCache(cacheDir);
  return {
    webVersion,
    webVersionCache: { type: 'local', path: cacheDir, strict: true },
    // The library hands this to page.evaluateOnNewDocument, which serialises a function by its
    // source: only a function built from source can carry the config into the page.
    evalOnNewDoc: new Function(fakeConfigScript(config)),
  };
}
