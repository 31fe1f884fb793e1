import { sampleTree } from '../../../lib/proc-memory.js';

/** One reading: PSS summed over the processes measured, and how many they were. */
export interface MemoryReading {
  pssBytes: number;
  processes: number;
}

/**
 * By default, this process and everything under it. The fleet's workers are this process's
 * children and each Chromium is its worker's child, so one tree holds the bench (the supervisor),
 * every worker and every browser tree, each process once, including workers still in their
 * handshake, which the fleet's live view does not list yet.
 */
function ownTree(): MemoryReading {
  const tree = sampleTree(process.pid);
  return { pssBytes: tree.pssBytes, processes: tree.pids.length };
}

/** The largest PSS seen, sampled on a timer: of `measure` (by default this process's tree). */
export class PeakMemory {
  private peakBytes = 0;
  private lastBytes = 0;
  private peakProcesses = 0;
  private samples = 0;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    intervalMs: number,
    private readonly measure: () => MemoryReading = ownTree,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = this.measure();
    this.samples++;
    this.lastBytes = now.pssBytes;
    if (now.pssBytes > this.peakBytes) {
      this.peakBytes = now.pssBytes;
      this.peakProcesses = now.processes;
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
