/**
 * Decides which partitions this host processes. The host asks it for partitions and is told when
 * it gains or loses one; nothing else in the runtime assumes it owns everything.
 */
export interface PartitionOwnership {
  start(handlers: OwnershipHandlers): Promise<void>;
  owned(): number[];
  stop(): Promise<void>;
}

/** What a host does when it gains or gives up a partition. */
export interface OwnershipHandlers {
  /** Start processing; `epoch` grows every time the partition changes hands. */
  acquire(partition: number, epoch: number): Promise<void>;
  /** Stop processing: `lost` means another host may already own it, so stop at once, without grace. */
  release(partition: number, how: "handoff" | "lost"): Promise<void>;
}

/** One host owns every partition: the single-host deployment. Leases replace it for many hosts. */
export class StaticOwnership implements PartitionOwnership {
  private readonly held = new Set<number>();
  private handlers: OwnershipHandlers | undefined;

  constructor(private readonly partitions: number) {}

  async start(handlers: OwnershipHandlers): Promise<void> {
    this.handlers = handlers;
    for (let p = 0; p < this.partitions; p++) {
      await handlers.acquire(p, 1);
      this.held.add(p);
    }
  }

  owned(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    const handlers = this.handlers;
    if (!handlers) return;
    await Promise.all([...this.held].map((p) => handlers.release(p, "handoff")));
    this.held.clear();
  }
}
