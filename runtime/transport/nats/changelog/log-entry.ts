import { encode } from "../../../../sdk/internal.js";
import { CorruptPartitionDataError } from "../../../errors.js";
import type { CommitRecord } from "../../../store/index.js";
import { LogEntrySchema, decodeChecked, upgradeRecord } from "./schemas.js";

/**
 * One entry of a partition's changelog. Every entry names the host and lease epoch that wrote it,
 * and `prev`, the sequence of the entry before it on the same partition (0: the first), so that a
 * reader can tell a whole chain from one with a gap (records purged under its feet).
 *
 * - `commit`: the records of a group of completed invocations, applied together.
 * - `epoch`: written by a new owner before it serves; any append by an earlier owner after it fails.
 * - `skip`: written by an operator (`npm run changelog -- skip`) right after one or more consecutive
 *   entries that do not decode (`skipped`, oldest first): a replay passes over them and goes on from
 *   `resumeAfter`, the entry before the first of them. Appending, not deleting: JetStream 2.9
 *   forgets a subject's last sequence when its last message is deleted, and with it the fence.
 */
export type LogEntry =
  | { type: "commit"; hostId: string; epoch: number; prev: number; records: CommitRecord[] }
  | { type: "epoch"; hostId: string; epoch: number; prev: number }
  | { type: "skip"; hostId: string; epoch: number; prev: number; skipped: number[]; resumeAfter: number };

export function encodeLogEntry(entry: LogEntry): Uint8Array {
  return encode(entry);
}

/**
 * Decodes the entry at `seq` of `partition`'s changelog. The changelog is written only by hosts; an
 * entry that does not decode, or is not shaped like one, is corruption (or a forgery by someone
 * allowed to publish there), so this throws a `CorruptPartitionDataError` naming partition and sequence.
 */
export function decodeLogEntry(bytes: Uint8Array, seq: number, partition: number): LogEntry {
  const corrupt = (problem: string, cause?: unknown) =>
    new CorruptPartitionDataError(
      `partition ${partition}: changelog entry ${seq} is not a Cairn log entry (${problem}); the partition stays stopped until an operator skips it: npm run changelog -- show ${partition}, then skip ${partition} <its last entry>`,
      { partition, cause },
    );
  const entry = decodeChecked(bytes, LogEntrySchema, corrupt) as LogEntry;
  return entry.type === "commit" ? { ...entry, records: entry.records.map(upgradeRecord) } : entry;
}
