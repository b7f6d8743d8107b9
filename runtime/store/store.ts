import { type Database, type RootDatabase, open } from "lmdb";
import { decode } from "../../sdk/internal.js";
import type { CommitRecord, CompletionRecord, OutboxEntry } from "./records.js";

type StateKey = [partition: number, object: string, key: string, name: string];
type CompletionKey = [partition: number, invocationId: string];
type ExpiryKey = [expiresAtMs: number, partition: number, invocationId: string];
type OutboxKey = [partition: number, seq: number];

// Sorts after every state entry name a user can reasonably write.
const NAME_MAX = "\u{10FFFF}\u{10FFFF}";

/**
 * The host's LMDB environment. Key layout (every key starts with the partition, so a partition's
 * data is one contiguous range and can move between hosts):
 *
 * | db            | key                                   | value                 |
 * | ------------- | ------------------------------------- | --------------------- |
 * | `state`       | [partition, object, key, name]        | the entry's value     |
 * | `completions` | [partition, invocationId]             | CompletionRecord      |
 * | `expiry`      | [expiresAtMs, partition, invocationId] | null (GC index)      |
 * | `outbox`      | [partition, seq]                      | OutboxEntry           |
 * | `positions`   | partition                             | inbox stream sequence |
 *
 * Reads are synchronous and see committed data only; every invocation's writes go through
 * {@link commit}.
 */
export class Store {
  private readonly root: RootDatabase;
  private readonly state: Database<Uint8Array, StateKey>;
  private readonly completions: Database<CompletionRecord, CompletionKey>;
  private readonly expiry: Database<null, ExpiryKey>;
  private readonly outbox: Database<OutboxEntry, OutboxKey>;
  private readonly positions: Database<number, number>;
  private readonly outboxSeq = new Map<number, number>();
  private readonly positionCache = new Map<number, number>();

  constructor(path: string) {
    // overlappingSync off: a write's promise resolves only once its transaction is synced to disk,
    // which is the moment its effects may be released. (On, it measured slower here: two wake-ups
    // of this thread per transaction instead of one.)
    this.root = open({ path, maxDbs: 8, overlappingSync: false, compression: false });
    // State values are stored as the msgpack bytes the invocation produced (see StateWrite).
    this.state = this.root.openDB({ name: "state", encoding: "binary" });
    this.completions = this.root.openDB({ name: "completions" });
    this.expiry = this.root.openDB({ name: "expiry" });
    this.outbox = this.root.openDB({ name: "outbox" });
    this.positions = this.root.openDB({ name: "positions" });
  }

  /** The decoded value of one state entry, or `undefined`. */
  readState(partition: number, object: string, key: string, name: string): unknown {
    const bytes = this.state.get([partition, object, key, name]);
    return bytes === undefined ? undefined : decode(bytes);
  }

  readStateNames(partition: number, object: string, key: string): string[] {
    const names: string[] = [];
    for (const k of this.state.getKeys({ start: [partition, object, key], end: [partition, object, key, NAME_MAX] })) {
      names.push(k[3]);
    }
    return names;
  }

  readCompletion(partition: number, invocationId: string): CompletionRecord | undefined {
    return this.completions.get([partition, invocationId]);
  }

  readPosition(partition: number): number {
    let position = this.positionCache.get(partition);
    if (position === undefined) {
      position = this.positions.get(partition) ?? 0;
      this.positionCache.set(partition, position);
    }
    return position;
  }

  /** Committed sends of a partition not yet confirmed published, oldest first. */
  readOutbox(partition: number): Array<{ seq: number; entry: OutboxEntry }> {
    const out: Array<{ seq: number; entry: OutboxEntry }> = [];
    for (const { key, value } of this.outbox.getRange({ start: [partition, 0], end: [partition, Number.MAX_SAFE_INTEGER] })) {
      out.push({ seq: key[1], entry: value });
    }
    return out;
  }

  /**
   * Commits one invocation's record atomically and resolves, with the outbox sequence numbers given
   * to its sends, once the record is flushed to disk: nothing it releases may leave the host before.
   *
   * This is the group commit: `batch()` queues the record's writes from this thread as one block,
   * and lmdb-js's write thread applies every block queued while the previous transaction was being
   * written in ONE transaction, so one fsync serves many invocations.
   */
  async commit(record: CommitRecord): Promise<number[]> {
    let seqs: number[] = [];
    await this.root.batch(() => {
      seqs = this.applySync(record);
    });
    return seqs;
  }

  private applySync(record: CommitRecord): number[] {
    const p = record.partition;
    for (const write of record.stateWrites) {
      switch (write.type) {
        case "set":
          this.state.put([p, write.object, write.key, write.name], write.value);
          break;
        case "delete":
          this.state.remove([p, write.object, write.key, write.name]);
          break;
        case "clearAll":
          for (const k of this.state.getKeys({ start: [p, write.object, write.key], end: [p, write.object, write.key, NAME_MAX] })) {
            this.state.remove(k);
          }
          break;
        default: {
          const unreachable: never = write;
          throw new Error(`unknown state write ${String(unreachable)}`);
        }
      }
    }
    const seqs: number[] = [];
    for (const entry of record.outbox) {
      const seq = this.nextOutboxSeq(p);
      this.outbox.put([p, seq], entry);
      seqs.push(seq);
    }
    this.completions.put([p, record.invocationId], record.completion);
    this.expiry.put([record.completion.expiresAtMs, p, record.invocationId], null);
    // Blocks queued together read the same committed value, so the maximum is kept here.
    if (record.position > this.readPosition(p)) {
      this.positionCache.set(p, record.position);
      this.positions.put(p, record.position);
    }
    return seqs;
  }

  private nextOutboxSeq(partition: number): number {
    let last = this.outboxSeq.get(partition);
    if (last === undefined) {
      last = 0;
      for (const k of this.outbox.getKeys({ start: [partition, Number.MAX_SAFE_INTEGER], end: [partition, 0], reverse: true, limit: 1 })) {
        last = k[1];
      }
    }
    this.outboxSeq.set(partition, last + 1);
    return last + 1;
  }

  /** Forgets published sends; joins the next group commit. Losing it only means publishing again, which dedups. */
  async removeOutbox(partition: number, seqs: readonly number[]): Promise<void> {
    await Promise.all(seqs.map((seq) => this.outbox.remove([partition, seq])));
  }

  /** Drops completion records whose idempotency window has passed; returns how many. */
  async expireCompletions(nowMs: number, limit = 10_000): Promise<number> {
    const expired = [...this.expiry.getKeys({ start: [0], end: [nowMs], limit })];
    if (expired.length === 0) return 0;
    await this.root.batch(() => {
      for (const k of expired) {
        this.expiry.remove(k);
        this.completions.remove([k[1], k[2]]);
      }
    });
    return expired.length;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
