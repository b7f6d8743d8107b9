export type { Outcome, CompletionRecord, OutboxEntry, StateWrite, CommitRecord } from "./records.js";
export { Store } from "./store.js";
export { claimDataDir } from "./data-dir-lock.js";
