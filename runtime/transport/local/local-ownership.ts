import type { OwnershipHandlers, PartitionLease, PartitionOwnership } from "../../partition/index.js";

/** Embedded mode: this process owns every partition, from start to close (its data dir is claimed). */
export class LocalOwnership implements PartitionOwnership {
  private readonly held = new Set<number>();
  private handlers: OwnershipHandlers | undefined;

  constructor(
    private readonly partitions: number,
    private readonly hostId: string,
  ) {}

  async start(handlers: OwnershipHandlers): Promise<void> {
    this.handlers = handlers;
    await Promise.all(
      Array.from({ length: this.partitions }, async (_, partition) => {
        await handlers.acquire(partition, 1);
        this.held.add(partition);
      }),
    );
  }

  owned(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  async assignment(): Promise<PartitionLease[]> {
    return this.owned().map((partition) => ({ partition, hostId: this.hostId, epoch: 1, revision: 1 }));
  }

  async stop(): Promise<void> {
    const handlers = this.handlers;
    if (!handlers) return;
    await Promise.all(this.owned().map((partition) => handlers.release(partition, "handoff").finally(() => this.held.delete(partition))));
  }
}
