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
