import { decode, encode } from "../../sdk/internal.js";
import type { CommitRecord } from "../store/index.js";

/**
 * One entry of a partition's changelog. Every entry names the host and lease epoch that wrote it,
 * and `prev`, the sequence of the entry before it on the same partition (0: the first), so that a
 * reader can tell a whole chain from one with a gap (records purged under its feet).
 *
 * - `commit`: the records of a group of completed invocations, applied together.
 * - `epoch`: written by a new owner before it serves; any append by an earlier owner after it fails.
 */
export type LogEntry =
  | { type: "commit"; hostId: string; epoch: number; prev: number; records: CommitRecord[] }
  | { type: "epoch"; hostId: string; epoch: number; prev: number };

export function encodeLogEntry(entry: LogEntry): Uint8Array {
  return encode(entry);
}

/** The changelog is written only by Cairn; an entry that does not decode means corruption, so this throws. */
export function decodeLogEntry(bytes: Uint8Array, seq: number): LogEntry {
  const value = decode(bytes) as Partial<LogEntry> | null;
  const ok =
    typeof value === "object" &&
    value !== null &&
    (value.type === "commit" ? Array.isArray(value.records) : value.type === "epoch") &&
    typeof value.prev === "number" &&
    typeof value.epoch === "number" &&
    typeof value.hostId === "string";
  if (!ok) throw new Error(`changelog entry ${seq} is not a Cairn log entry`);
  return value as LogEntry;
}
