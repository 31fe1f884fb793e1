/*
 * The live feed: EventSource cannot send the X-API-Key header, so each connection starts with a
 * short-lived token from `POST /api/events/token`. On any error the source is closed and a new
 * token fetched after a growing pause (EventSource's own retry would reuse an expired token).
 */

export const FLEET_EVENTS = [
  'connection.update',
  'qrcode.updated',
  'status.instance',
  'reconnect.failed',
  'logout.instance',
  'remove.instance',
  'no.connection',
  'instance.health',
  'memory.alert',
  'message.received',
  'message.status',
  'message.ack',
];

const MAX_RETRY_MS = 30_000;

export class FleetStream {
  /**
   * @param {object} options
   * @param {(method: string, path: string) => Promise<any>} options.api
   * @param {(name: string, payload: any) => void} options.onEvent
   * @param {(state: 'connecting'|'live'|'reconnecting', retryMs?: number) => void} options.onState
   * @param {(reopened: boolean) => void} options.onOpen a reopened stream may have missed events
   * @param {(error: any) => void} options.onAuthLost the key stopped working
   */
  constructor(options) {
    this.options = options;
    this.source = null;
    this.timer = null;
    this.failures = 0;
    this.opened = false;
    this.stopped = true;
    // Bumped by start/stop: an open() still waiting for its token from an earlier start gives up.
    this.generation = 0;
  }

  start() {
    this.stop();
    this.stopped = false;
    void this.open(this.generation);
  }

  stop() {
    this.generation++;
    this.stopped = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }

  async open(generation) {
    this.options.onState('connecting');
    let token;
    try {
      ({ token } = await this.options.api('POST', '/api/events/token'));
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.status === 401) return this.options.onAuthLost(error);
      return this.retry();
    }
    if (generation !== this.generation) return;
    const source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.options.onState('live');
      this.options.onOpen(this.opened);
      this.opened = true;
    };
    for (const name of FLEET_EVENTS) {
      source.addEventListener(name, (message) => {
        let payload;
        try {
          payload = JSON.parse(message.data);
        } catch {
          return;
        }
        this.options.onEvent(name, payload);
      });
    }
    source.onerror = () => {
      source.close();
      if (this.source !== source) return;
      this.source = null;
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.failures++);
    this.options.onState('reconnecting', delay);
    const generation = this.generation;
    this.timer = setTimeout(() => void this.open(generation), delay);
  }
}
