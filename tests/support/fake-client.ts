import type { Client as WaClient, Message } from 'whatsapp-web.js';

/*
 * A bare whatsapp-web.js Client against the fake WhatsApp Web, as the fake page's own tests drive
 * it: the Chromium options of an offline test browser, and a log of the client's events to wait on.
 */

/** Puppeteer options for a test browser: Debian's Chromium, no sandbox, nothing that calls home. */
export const TEST_PUPPETEER = {
  executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
  headless: true,
  pipe: true,
  handleSIGINT: false,
  handleSIGTERM: false,
  handleSIGHUP: false,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
};

export interface LoggedEvent {
  name: string;
  args: unknown[];
}

export interface WaitOptions {
  /** Only events at this position of the log or later. */
  from?: number;
  /** Only events whose arguments match. */
  match?: (args: unknown[]) => boolean;
  timeoutMs?: number;
}

/** Every event of the given names the client emitted, in order, with a way to wait for the next one of a kind. */
export class ClientEventLog {
  readonly entries: LoggedEvent[] = [];
  private readonly wakers = new Set<() => void>();

  constructor(client: WaClient, names: readonly string[]) {
    for (const name of names) {
      client.on(name, (...args: unknown[]) => {
        this.entries.push({ name, args });
        for (const wake of this.wakers) wake();
      });
    }
  }

  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** Message events of one kind, optionally only for one serialized id. */
  messages(name: string, id?: string): Message[] {
    return this.entries.filter((e) => e.name === name && (!id || (e.args[0] as Message).id._serialized === id)).map((e) => e.args[0] as Message);
  }

  /** Resolves with the arguments of the first matching `name` event; rejects after `timeoutMs` (30 s) naming what was seen. */
  waitFor(name: string, options: WaitOptions = {}): Promise<unknown[]> {
    const { from = 0, match = () => true, timeoutMs = 30_000 } = options;
    const find = () => this.entries.slice(from).find((e) => e.name === name && match(e.args));
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = find();
        if (!hit) return;
        clearTimeout(timer);
        this.wakers.delete(check);
        resolve(hit.args);
      };
      const timer = setTimeout(() => {
        this.wakers.delete(check);
        reject(new Error(`no '${name}' event within ${timeoutMs} ms; saw: ${this.names().join(', ')}`));
      }, timeoutMs);
      this.wakers.add(check);
      check();
    });
  }

  /** The first `name` message event for the serialized id. */
  async waitForMessage(name: string, id: string, timeoutMs?: number): Promise<Message> {
    const [message] = await this.waitFor(name, { match: (args) => (args[0] as Message).id._serialized === id, ...(timeoutMs ? { timeoutMs } : {}) });
    return message as Message;
  }
}
