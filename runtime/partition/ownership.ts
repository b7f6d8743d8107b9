/**
 * Decides which partitions this host processes. The host asks it for partitions and is told when
 * it gains or loses one; nothing else in the runtime assumes it owns everything.
 */
export interface PartitionOwnership {
  start(handlers: OwnershipHandlers): Promise<void>;
  owned(): number[];
  /** Which host holds each partition, and its epoch, as the ownership's source of truth says now. */
  assignment(): Promise<PartitionLease[]>;
  stop(): Promise<void>;
}

/** Who holds a partition's lease, as the lease bucket says now. */
export interface PartitionLease {
  partition: number;
  hostId: string;
  epoch: number;
  /** The lease entry's current revision: what a renewal or takeover is conditioned on. */
  revision: number;
}

/** What a host does when it gains or gives up a partition. */
export interface OwnershipHandlers {
  /** Start processing; `epoch` grows every time the partition changes hands. */
  acquire(partition: number, epoch: number): Promise<void>;
  /** Stop processing: `lost` means another host may already own it, so stop at once, without grace. */
  release(partition: number, how: "handoff" | "lost"): Promise<void>;
}
