export type {
  Outcome,
  CompletionRecord,
  OutboxEntry,
  StateWrite,
  CommitRecord,
  InvocationRecord,
  InvocationRow,
  InvocationStatus,
  StopRequest,
  JournalEntry,
  JournalEntryType,
  ProgressRecord,
  EntryRecord,
  PromiseWrite,
  TimersRecord,
  TimerEntry,
  TimerKey,
  InboxKey,
  InboxRow,
  OutboxKey,
  PartitionSnapshot,
  HistoryEntry,
  HistoryChange,
} from "./records.js";
export type { HistoryLimits } from "./history.js";
export { DEFAULT_HISTORY_LIMITS } from "./history.js";
export type { StateKey } from "./state-keys.js";
export { Store, timerKey } from "./store.js";
export { mergeEntry } from "./journal-merge.js";
export { encodeStateKey, decodeStateKey } from "./state-keys.js";
export { claimDataDir } from "./data-dir-lock.js";
export type { SendRouting, StoreOptions } from "./store.js";
