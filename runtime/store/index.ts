export type { Outcome, CompletionRecord, OutboxEntry, StateWrite, CommitRecord, OutboxKey, PartitionSnapshot } from "./records.js";
export { Store } from "./store.js";
export { claimDataDir } from "./data-dir-lock.js";
