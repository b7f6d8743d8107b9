export type { PartitionOwnership, OwnershipHandlers, PartitionLease } from "./ownership.js";
export type { ParsedEnvelope, Delivery, Committed, CommitLog, Router, Replier, Checkpoint, PartitionWorker, UnservedTargets } from "./ports.js";
export type { ProcessorDeps, ProcessorFactory } from "./processor.js";
export { PartitionProcessor } from "./processor.js";
export { KeyQueue } from "./key-queue.js";
export { applyUntilWritten } from "./apply-until-written.js";
export type { AssignmentStep } from "./assignment.js";
export { planStep, quotas } from "./assignment.js";
export { WorkerCensus } from "./worker-census.js";
