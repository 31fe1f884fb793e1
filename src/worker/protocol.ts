/**
 * The supervisor↔worker protocol: what each side may send. Commands go supervisor → worker and
 * are answered; events go worker → supervisor and are not. With SESSION_STORE=mysql a worker also
 * asks the supervisor (`WorkerRequest`): it holds no database credentials, so its session backup
 * goes through the supervisor. Payload shapes are below (session requests: session-transfer.ts).
 */

/** Requests the supervisor sends to a worker. */
export const WorkerCommand = {
  /** Handshake: launch the client. Answered once `initialize()` has returned. */
  INIT: 'init',
  PING: 'ping',
  DEEP: 'deep',
  PAIRING_CODE: 'pairing_code',
  LOGOUT: 'logout',
  /** Destroy and initialize the client again in the same process. */
  RESTART: 'restart',
  /** Destroy the client, answer, then exit. */
  SHUTDOWN: 'shutdown',
  GC: 'gc',
  /** Demo/test mode only: forwards an action to the fake WhatsApp Web's `window.__fake`. */
  SIMULATE: 'simulate',
  /** Sends one message under the WhatsApp message id the supervisor chose (`SendRequest.waId`). */
  SEND_MESSAGE: 'send_message',
  /** Is a message this session sent (`true_<chatId>_<waId>`) in WhatsApp Web? */
  FIND_MESSAGE: 'find_message',
  DOWNLOAD_MEDIA: 'download_media',
  /** Demo/test mode only: awaits a `window.__fake` action and answers with its result. */
  DEMO_QUERY: 'demo_query',
  /**
   * CLUSTER=on: the node's lease is good for `validForMs` more. Past it without a newer one, the
   * worker kills its browser and exits on its own: a paused or frozen supervisor cannot stop it,
   * and another node may start the same session by then.
   */
  LEASE: 'lease',
  /** These reported messages (`message` events) are committed: the worker forgets them (inbound-outbox.ts). */
  INBOUND_RECORDED: 'inbound_recorded',
  /** SESSION_STORE=mysql: back the linked session up now (a hand-over to another node); answers `{ saved }`. */
  BACKUP_SESSION: 'backup_session',
} as const;
export type WorkerCommand = (typeof WorkerCommand)[keyof typeof WorkerCommand];
export const WORKER_COMMANDS = Object.values(WorkerCommand) as WorkerCommand[];

/** Events a worker reports to the supervisor. */
export const WorkerEvent = {
  /** The process is up and listening for `init`. */
  HELLO: 'hello',
  QR: 'qr',
  AUTHENTICATED: 'authenticated',
  READY: 'ready',
  CHANGE_STATE: 'change_state',
  DISCONNECTED: 'disconnected',
  AUTH_FAILURE: 'auth_failure',
  LOADING_SCREEN: 'loading_screen',
  PAIRING_CODE: 'pairing_code',
  /** Page errors, failed evaluations and unhandled rejections from inside the library. */
  ERROR: 'error',
  BROWSER_LAUNCHED: 'browser_launched',
  BROWSER_DISCONNECTED: 'browser_disconnected',
  PAGE_CLOSED: 'page_closed',
  /** A new message in WhatsApp Web: inbound, or sent from the phone. Never one sent through `send_message`. */
  MESSAGE: 'message',
  /** A message's delivery state changed (sent, delivered, read …). */
  MESSAGE_ACK: 'message_ack',
  /** SESSION_STORE=mysql: the session was restored, kept, saved, or a backup failed (`SessionBackupReport`). */
  SESSION_BACKUP: 'session_backup',
} as const;
export type WorkerEvent = (typeof WorkerEvent)[keyof typeof WorkerEvent];
export const WORKER_EVENTS = Object.values(WorkerEvent) as WorkerEvent[];

/**
 * Requests a worker sends to the supervisor (SESSION_STORE=mysql only): the RemoteAuth store's
 * four calls. The supervisor answers only for the worker's own instance; without a session store
 * it has no handler and the worker gets IPC_NO_HANDLER.
 */
export const WorkerRequest = {
  SESSION_EXISTS: 'session_exists',
  /** One part of a backup; the last part commits the whole (session-transfer.ts). */
  SESSION_SAVE: 'session_save',
  /** One part of the stored backup. */
  SESSION_EXTRACT: 'session_extract',
  SESSION_DELETE: 'session_delete',
} as const;
export type WorkerRequest = (typeof WorkerRequest)[keyof typeof WorkerRequest];
export const WORKER_REQUESTS = Object.values(WorkerRequest) as WorkerRequest[];

/** Everything a worker needs to host one client; sent with `init`. */
export interface WorkerInit {
  instanceId: string;
  /** Absolute, already checked to be inside the session storage root. */
  sessionRoot: string;
  chromePath: string;
  /** whatsapp-web.js web-version cache for the real site. */
  cachePath: string;
  /** Time WhatsApp Web has to load before initialize() gives up ('auth timeout'). */
  authTimeoutMs: number;
  /** Load the fake WhatsApp Web instead of the real site (demo/test mode). */
  fakeWeb: boolean;
  /** BROWSER_SANDBOX=on: Chromium keeps its sandbox and its processes (src/worker/chromium-args.ts). */
  browserSandbox: boolean;
  /** Initial scenario for the fake page (`window.__FAKE_WA_CONFIG`). */
  fakeScenario?: Record<string, unknown>;
  /** SESSION_STORE=mysql: back the session up through the supervisor every `intervalMs`; absent: LocalAuth only. */
  sessionBackup?: { intervalMs: number; firstDelayMs?: number | undefined } | null;
  /** CLUSTER=on: the lease's time left when the worker was launched (see WorkerCommand.LEASE); absent: no lease. */
  leaseMs?: number | null;
}

/** Payload of the `session_backup` event. */
export interface SessionBackupReport {
  /** restored: from the stored copy; kept: the local profile, the stored copy has not moved on; saved; failed. */
  action: 'restored' | 'kept' | 'saved' | 'failed';
  /** Size of the zip restored or saved. */
  bytes: number | null;
  /** Restore: fetch and unzip; save: zip, transfer and write. */
  ms: number | null;
  message?: string | null;
}

export interface PingResult {
  state: string | null;
  latencyMs: number;
}

export interface DeepResult {
  storePresent: boolean;
  socketState: string | null;
  jsHeapUsedBytes: number | null;
  jsHeapTotalBytes: number | null;
}

/** Media as it crosses the channel: base64, the way whatsapp-web.js's MessageMedia holds it. */
export interface MediaPayload {
  mimetype: string;
  filename: string | null;
  /** base64 */
  data: string;
}

/** One message to send; text, or media with an optional caption. */
export interface SendRequest {
  /** e.g. `15550001234@c.us` */
  chatId: string;
  /**
   * The WhatsApp message id to send it under. The supervisor derives it from its own message id
   * and records it before sending, so a send whose outcome is unknown can be looked up by it.
   */
  waId: string;
  text?: string;
  media?: MediaPayload;
  caption?: string | null;
  /** Serialized id of the message this one replies to. */
  quotedId?: string | null;
}

export interface SendResult {
  /** Serialized id WhatsApp Web gave the message: `true_<chatId>_<waId>`. */
  waMessageId: string;
  timestamp: number | null;
  /** Whether `waMessageId` carries the requested waId (false: WhatsApp Web chose its own id). */
  idMatched: boolean;
}

export interface FindRequest {
  chatId: string;
  waId: string;
}

export interface FindResult {
  found: boolean;
  /** The message's ack when found (-1 error … 4 played), else null. */
  ack: number | null;
}

/** Payload of the `message` event. */
export interface MessageEventPayload {
  /** Serialized message id. */
  id: string;
  /** The other party: `from` for an incoming message, `to` for one of this account's own. */
  chatId: string;
  from: string;
  to: string;
  fromMe: boolean;
  /** whatsapp-web.js's MessageTypes value: chat, image, document … */
  type: string;
  /** Text, or a media message's caption. */
  body: string;
  timestamp: number | null;
  hasMedia: boolean;
  /** Serialized id of the message this one replies to. */
  quotedId: string | null;
  /** Sender within a group; null in a one-to-one chat. */
  author: string | null;
}

/** Payload of the `message_ack` event. */
export interface MessageAckPayload {
  id: string;
  chatId: string;
  ack: number;
  fromMe: boolean;
}
