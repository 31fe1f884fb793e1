/**
 * The supervisor↔worker protocol: what each side may send. Requests go one way (supervisor →
 * worker) and are answered; events go the other way and are not. Payload shapes are below.
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
} as const;
export type WorkerEvent = (typeof WorkerEvent)[keyof typeof WorkerEvent];
export const WORKER_EVENTS = Object.values(WorkerEvent) as WorkerEvent[];

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
