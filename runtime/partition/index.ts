export type { PartitionOwnership } from "./ownership.js";
export { StaticOwnership } from "./ownership.js";
export type { PartitionDeps } from "./partition-worker.js";
export { PartitionWorker } from "./partition-worker.js";
export { KeyQueue } from "./key-queue.js";
export type { ParsedEnvelope } from "./envelope.js";
export { parseEnvelope } from "./envelope.js";
export type { HostLock } from "./host-lock.js";
export { acquireHostLock } from "./host-lock.js";
