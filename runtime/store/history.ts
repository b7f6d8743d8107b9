import type { Database } from "lmdb";
import type { HistoryChange, HistoryEntry, PartitionSnapshot } from "./records.js";
import { startsWith } from "./pending-state.js";
import { decodeObjectKeyPrefix, objectKeyPrefix, partitionPrefix, prefixEnd } from "./state-keys.js";

/** How much history is kept: what the host options `historyRetentionMs` and `historyEntriesPerKey` say. */
export interface HistoryLimits {
  /** Entries older than this (by the committing host's clock) are dropped. */
  retentionMs: number;
  /** Only this many newest entries are kept per object key; 0 keeps no history at all. */
  entriesPerKey: number;
}

export type HistoryRow = NonNullable<PartitionSnapshot["history"]>[number];

const U64_BYTES = 8;
const INDEX_BYTES = 4;
/** After the object key's prefix: the changelog sequence, the record's index in its entry, the time. */
const SUFFIX_BYTES = U64_BYTES + INDEX_BYTES + U64_BYTES;

function writeU64(buffer: Buffer, value: number, at: number): void {
  const n = Math.max(0, Math.floor(value));
  buffer.writeUInt32BE(Math.floor(n / 2 ** 32), at);
  buffer.writeUInt32BE(n >>> 0, at + 4);
}

function readU64(buffer: Uint8Array, at: number): number {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return view.readUInt32BE(at) * 2 ** 32 + view.readUInt32BE(at + 4);
}

/**
 * An entry's key: the object key's prefix (as in the `state` db), then the changelog sequence and
 * the record's index in that entry, which order a key's commits the same way on every replica (the
 * committing hosts' clocks need not agree), then the time, so that pruning reads keys only.
 */
function entryKey(prefix: Buffer, logSeq: number, index: number, atMs: number): Buffer {
  const key = Buffer.allocUnsafe(prefix.length + SUFFIX_BYTES);
  prefix.copy(key, 0);
  writeU64(key, logSeq, prefix.length);
  key.writeUInt32BE(index, prefix.length + U64_BYTES);
  writeU64(key, atMs, prefix.length + U64_BYTES + INDEX_BYTES);
  return key;
}

function atMsOf(entryKey: Uint8Array): number {
  return readU64(entryKey, entryKey.length - U64_BYTES);
}

/** The `history-age` index: time first, so that the sweep reads the oldest entries of every key first. */
function ageKey(entryKey: Uint8Array): Buffer {
  const key = Buffer.allocUnsafe(U64_BYTES + entryKey.length);
  writeU64(key, atMsOf(entryKey), 0);
  key.set(entryKey, U64_BYTES);
  return key;
}

/**
 * The net change one commit made to each object key it wrote: per state entry, its value before the
 * commit (the first write's) and after it (the last write's).
 */
export class CommitChanges {
  private readonly keys = new Map<string, { object: string; key: string; names: Map<string, { before: Uint8Array | undefined; after: Uint8Array | undefined }> }>();

  note(object: string, key: string, name: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    const id = `${object.length}:${object}${key}`;
    let touched = this.keys.get(id);
    if (!touched) this.keys.set(id, (touched = { object, key, names: new Map() }));
    const known = touched.names.get(name);
    if (known) known.after = after;
    else touched.names.set(name, { before, after });
  }

  /** Each object key with the entries that existed before or after (a delete of nothing is no change). */
  *byKey(): Generator<{ object: string; key: string; changes: HistoryChange[] }> {
    for (const { object, key, names } of this.keys.values()) {
      const changes: HistoryChange[] = [];
      for (const [name, { before, after }] of names) {
        if (before === undefined && after === undefined) continue;
        const change: HistoryChange = { name };
        if (before !== undefined) change.before = before;
        if (after !== undefined) change.after = after;
        changes.push(change);
      }
      if (changes.length > 0) yield { object, key, changes };
    }
  }
}

/**
 * The `history` db (an object key's commits, by changelog order) and its `history-age` index. Entries
 * are written while a changelog entry is applied, so a restore, a snapshot and the first host hold
 * the same; they are pruned per key on write (count and age) and by the host's sweep (age).
 */
export class History {
  constructor(
    private readonly entries: Database<HistoryEntry, Buffer>,
    private readonly ages: Database<null, Buffer>,
    readonly limits: HistoryLimits,
  ) {}

  get enabled(): boolean {
    return this.limits.entriesPerKey > 0;
  }

  /**
   * Adds entries inside one transaction. Reads there see only committed keys, so the keys each
   * object key holds are kept here as the transaction's writes leave them (one restore may write
   * one key many times).
   */
  writer(): (partition: number, order: { logSeq: number; index: number }, meta: Omit<HistoryEntry, "changes">, changes: CommitChanges) => void {
    const lanes = new Map<string, Buffer[]>();
    return (partition, { logSeq, index }, meta, changes) => {
      for (const { object, key, changes: list } of changes.byKey()) {
        const prefix = objectKeyPrefix(partition, object, key);
        const id = prefix.toString("latin1");
        let lane = lanes.get(id);
        if (!lane) {
          lane = [...this.entries.getKeys({ start: prefix, end: prefixEnd(prefix) })].map((k) => Buffer.from(k));
          lanes.set(id, lane);
        }
        const at = entryKey(prefix, logSeq, index, meta.atMs);
        this.entries.put(at, { ...meta, changes: list });
        this.ages.put(ageKey(at), null);
        lane.push(at);
        const oldestKept = meta.atMs - this.limits.retentionMs;
        while (lane.length > this.limits.entriesPerKey || (lane.length > 0 && atMsOf(lane[0] as Buffer) < oldestKept)) {
          this.remove(lane.shift() as Buffer);
        }
      }
    };
  }

  private remove(key: Uint8Array): void {
    this.entries.remove(Buffer.from(key));
    this.ages.remove(ageKey(key));
  }

  /** An object key's entries, newest first. */
  read(partition: number, object: string, key: string, limit: number): HistoryEntry[] {
    const prefix = objectKeyPrefix(partition, object, key);
    const out: HistoryEntry[] = [];
    if (limit <= 0) return out;
    for (const { key: k, value } of this.entries.getRange({ start: prefixEnd(prefix), end: prefix, reverse: true, limit })) {
      if (startsWith(k, prefix)) out.push(value);
    }
    return out;
  }

  /** The partition's entries, each key's oldest first, as a snapshot holds them. */
  export(partition: number): HistoryRow[] {
    const prefix = partitionPrefix(partition);
    const rows: HistoryRow[] = [];
    for (const { key, value } of this.entries.getRange({ start: prefix, end: prefixEnd(prefix) })) {
      const { object, key: objectKey, prefixBytes } = decodeObjectKeyPrefix(key);
      const logSeq = readU64(key, prefixBytes);
      const index = Buffer.from(key.buffer, key.byteOffset, key.byteLength).readUInt32BE(prefixBytes + U64_BYTES);
      rows.push([object, objectKey, logSeq, index, value]);
    }
    return rows;
  }

  /** Inside a transaction: replaces the partition's entries by a snapshot's. */
  replace(partition: number, rows: readonly HistoryRow[]): void {
    const prefix = partitionPrefix(partition);
    for (const k of this.entries.getKeys({ start: prefix, end: prefixEnd(prefix) })) this.remove(k);
    for (const [object, key, logSeq, index, entry] of rows) {
      const at = entryKey(objectKeyPrefix(partition, object, key), logSeq, index, entry.atMs);
      this.entries.put(at, entry);
      this.ages.put(ageKey(at), null);
    }
  }

  /** Inside a transaction: the keys of up to `limit` entries older than `beforeMs`, every partition's, removed. */
  expire(beforeMs: number, limit: number): number {
    const end = Buffer.alloc(U64_BYTES);
    writeU64(end, beforeMs, 0);
    const expired = [...this.ages.getKeys({ start: Buffer.alloc(U64_BYTES), end, limit })].map((k) => Buffer.from(k));
    for (const k of expired) this.remove(k.subarray(U64_BYTES));
    return expired.length;
  }
}

/**
 * A day, as the idempotency window: long enough to answer "what changed this key since yesterday",
 * and with the per-key bound it caps what a busy key costs (each entry holds its values before and after).
 */
export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { retentionMs: 24 * 60 * 60 * 1000, entriesPerKey: 100 };
