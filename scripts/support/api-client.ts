/** The public REST API of a running supervisor, as an operator's script would call it. */

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export interface InstanceSummary {
  id: string;
  enabled: boolean;
  connectionStatus: string;
  statusReason: string | null;
  health: string;
  reconnectAttempts: number;
  waitingForHuman: string | null;
  worker: { pid: number; browserPid: number | null; uptimeMs: number | null } | null;
  /** The node that runs it (CLUSTER=on: the lease holder), or null. */
  node?: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly what: string,
    readonly text: string,
  ) {
    super(`${what}: HTTP ${status} ${text.slice(0, 300)}`);
  }
}

export class ApiClient {
  constructor(
    readonly base: string,
    readonly key: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** One request; network failures reject, every HTTP status resolves. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'x-api-key': this.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T, text };
  }

  /** A request that must answer 2xx. */
  async expectOk<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.request<T>(method, path, body);
    if (answer.status < 200 || answer.status > 299) throw new ApiError(answer.status, `${method} ${path}`, answer.text);
    return answer.body;
  }

  /** The pid of the supervisor's spare worker (ready or loading; WORKER_SPARE), or null when it has none. */
  async sparePid(): Promise<number | null> {
    return (await this.expectOk<{ spareWorker: { pid: number | null } }>('GET', '/api/health')).spareWorker.pid;
  }

  async instances(): Promise<InstanceSummary[]> {
    return (await this.fleet()).instances;
  }

  /** The instance list with the supervisor's word on its database (`down`: answered from the live view). */
  async fleet(): Promise<{ database: 'up' | 'down'; instances: InstanceSummary[] }> {
    return this.expectOk('GET', '/api/instances');
  }

  async create(id: string): Promise<void> {
    await this.expectOk('POST', '/api/instances', { id });
  }

  /** A demo-mode action on the instance's fake WhatsApp Web (scan, freeze, crash, conflict, unpair, leak…). */
  async demo(id: string, action: string): Promise<void> {
    await this.expectOk('POST', `/api/demo/${encodeURIComponent(id)}/${action}`);
  }

  /** Asks for the QR, which starts a worker stopped for QR idleness. */
  async qr(id: string): Promise<ApiAnswer> {
    return this.request('GET', `/api/instance/${encodeURIComponent(id)}/qr`);
  }
}
