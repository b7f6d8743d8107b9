export type { Outcome, CompletionRecord, OutboxEntry, StateWrite, CommitRecord, OutboxKey, PartitionSnapshot } from "./records.js";
export type { StateKey } from "./state-keys.js";
export { Store } from "./store.js";
export { encodeStateKey, decodeStateKey } from "./state-keys.js";
export { claimDataDir } from "./data-dir-lock.js";
