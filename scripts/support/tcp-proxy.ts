import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of one server (a node's way to MySQL), which a test or a chaos run can cut
 * and restore: `cut()` resets every open connection and refuses new ones, as a partition between
 * that node and the database would; the other nodes, with their own relays, see nothing.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private isCut = false;
  /** Connections relayed since start, and connections refused while cut. */
  readonly counts = { relayed: 0, refused: 0, reset: 0 };

  constructor(
    private readonly target: { host: string; port: number },
  ) {}

  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  get isCutOff(): boolean {
    return this.isCut;
  }

  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (this.isCut) {
        this.counts.refused++;
        client.resetAndDestroy();
        return;
      }
      this.counts.relayed++;
      const upstream = connect(this.target.port, this.target.host);
      this.track(client);
      this.track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    return this.port;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Resets every relayed connection and refuses new ones until restore(). */
  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) {
      this.counts.reset++;
      s.resetAndDestroy();
    }
  }

  restore(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}
