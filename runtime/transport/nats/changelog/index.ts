export { FencedError, PartitionLog, ensureLogStream, logStreamName, logSubject } from "./partition-log.js";
export { type LogEntry, decodeLogEntry, encodeLogEntry } from "./log-entry.js";
export { SnapshotStore, snapshotBucketName } from "./snapshots.js";
export { type TakeOverReport, takeOver } from "./restore.js";
export type { EntryView } from "./repair.js";
export { inspectChangelog, skipCorruptEntries } from "./repair.js";
