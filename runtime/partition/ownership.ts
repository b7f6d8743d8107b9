/**
 * Decides which partitions this host processes. The host asks it for partitions and is told when
 * it gains or loses one; nothing else in the runtime assumes it owns everything.
 */
export interface PartitionOwnership {
  start(handlers: { acquire(partition: number): Promise<void>; release(partition: number): Promise<void> }): Promise<void>;
  owned(): number[];
  stop(): Promise<void>;
}

/** One host owns every partition: the single-host deployment. Leases replace it for many hosts. */
export class StaticOwnership implements PartitionOwnership {
  private readonly held = new Set<number>();
  private release: ((partition: number) => Promise<void>) | undefined;

  constructor(private readonly partitions: number) {}

  async start(handlers: { acquire(partition: number): Promise<void>; release(partition: number): Promise<void> }): Promise<void> {
    this.release = handlers.release;
    for (let p = 0; p < this.partitions; p++) {
      await handlers.acquire(p);
      this.held.add(p);
    }
  }

  owned(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    const release = this.release;
    if (!release) return;
    await Promise.all([...this.held].map((p) => release(p)));
    this.held.clear();
  }
}
