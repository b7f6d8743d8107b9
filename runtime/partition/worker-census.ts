/** The most workers ever live at once for one partition in one host of this process. */
let mostEver = 0;

/**
 * One host's live partition workers, per partition: from construction until their `stop()`
 * completed. Two at once for one partition would mean two consume loops competing for its inbox;
 * the host never lets that happen, and crash tests read `WorkerCensus.mostEver()` to prove it.
 * Per host, not per process: several hosts (of one namespace or of several) may share a process.
 */
export class WorkerCensus {
  private readonly live = new Map<number, number>();

  /** Across every host of this process since it started. */
  static mostEver(): number {
    return mostEver;
  }

  enter(partition: number): void {
    const now = (this.live.get(partition) ?? 0) + 1;
    this.live.set(partition, now);
    mostEver = Math.max(mostEver, now);
  }

  leave(partition: number): void {
    const now = (this.live.get(partition) ?? 1) - 1;
    if (now > 0) this.live.set(partition, now);
    else this.live.delete(partition);
  }

  /** Live workers of `partition` now. */
  count(partition: number): number {
    return this.live.get(partition) ?? 0;
  }
}
