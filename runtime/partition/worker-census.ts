/**
 * Live partition workers in this process, per partition: from construction until their `stop()`
 * completed. Two at once for one partition would mean two consume loops competing for its inbox;
 * the host never lets that happen, and crash tests read `maxPerPartition()` to prove it.
 */
const live = new Map<number, number>();
let most = 0;

export const workerCensus = {
  enter(partition: number): number {
    const now = (live.get(partition) ?? 0) + 1;
    live.set(partition, now);
    most = Math.max(most, now);
    return now;
  },
  leave(partition: number): void {
    const now = (live.get(partition) ?? 1) - 1;
    if (now > 0) live.set(partition, now);
    else live.delete(partition);
  },
  /** Live workers of `partition` now. */
  count(partition: number): number {
    return live.get(partition) ?? 0;
  },
  /** The most workers ever live at once for one partition since the process started. */
  maxPerPartition(): number {
    return most;
  },
};
