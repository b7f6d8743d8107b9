/**
 * Runs tasks one at a time per key, in the order they were added; different keys run concurrently.
 * A task's failure does not stop the tasks queued behind it.
 */
export class KeyQueue {
  private readonly tails = new Map<string, Promise<void>>();
  /** Tasks queued or running per key. */
  private readonly counts = new Map<string, number>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  /** `onTaskDone` hears each task's end, once the queue no longer counts it. */
  constructor(private readonly onTaskDone?: () => void) {}

  run(key: string, task: () => Promise<void>): void {
    this.active++;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch(() => undefined).finally(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
      if (--this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.onTaskDone?.();
    });
    this.tails.set(key, next);
  }

  get size(): number {
    return this.active;
  }

  /** Tasks queued or running under `key`. */
  sizeOf(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Resolves when no task is queued or running. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
