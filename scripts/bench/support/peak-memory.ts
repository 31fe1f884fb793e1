import { sampleTree } from '../../../lib/proc-memory.js';

/**
 * The largest PSS seen of this process and everything under it, sampled on a timer. The fleet's
 * workers are this process's children and each Chromium is its worker's child, so one tree holds
 * the bench (the supervisor), every worker and every browser tree, each process once, including
 * workers still in their handshake, which the fleet's live view does not list yet.
 */
export class PeakMemory {
  private peakBytes = 0;
  private lastBytes = 0;
  private peakProcesses = 0;
  private samples = 0;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const tree = sampleTree(process.pid);
    this.samples++;
    this.lastBytes = tree.pssBytes;
    if (tree.pssBytes > this.peakBytes) {
      this.peakBytes = tree.pssBytes;
      this.peakProcesses = tree.pids.length;
    }
  }

  /**
   * Stops sampling (once; later calls only report): the peak PSS, the processes counted at that
   * peak, the PSS of the last sample (taken now) and how many samples were taken.
   */
  stop(): { peakBytes: number; peakProcesses: number; lastBytes: number; samples: number } {
    if (!this.stopped) {
      this.stopped = true;
      clearInterval(this.timer);
      this.sample();
    }
    return { peakBytes: this.peakBytes, peakProcesses: this.peakProcesses, lastBytes: this.lastBytes, samples: this.samples };
  }
}
