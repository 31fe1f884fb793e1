/**
 * A read that requests share without ever being answered from before they arrived: `read()`
 * resolves with the result of a run of `run` that started after the call. When no run is in
 * flight it starts one; while one is in flight (it started before this call, so it may miss a
 * write that committed just before the call) the caller waits for the next run, which starts when
 * the current one settles and is shared by every caller that came meanwhile. Under load a busy
 * read route thus queries once per round trip instead of once per request, and a lone request
 * still gets a run of its own at once.
 */
export class FreshRead<T> {
  private running: Promise<T> | null = null;
  private next: Promise<T> | null = null;
  /** Runs started, for tests and benches. */
  runs = 0;

  constructor(private readonly run: () => Promise<T>) {}

  read(): Promise<T> {
    if (!this.running) return this.start();
    if (!this.next) {
      const after = () => {
        this.next = null;
        return this.start();
      };
      this.next = this.running.then(after, after);
    }
    return this.next;
  }

  private start(): Promise<T> {
    this.runs++;
    const run = (this.running = Promise.resolve().then(this.run));
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }
}
