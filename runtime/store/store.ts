import { type Database, type RootDatabase, open } from "lmdb";
import { decode } from "../../sdk/internal.js";
import type { CommitRecord, CompletionRecord, OutboxEntry, OutboxKey, PartitionSnapshot } from "./records.js";
import { storeWrite } from "./write-failure.js";

type StateKey = [partition: number, object: string, key: string, name: string];
type CompletionKey = [partition: number, invocationId: string];
type ExpiryKey = [expiresAtMs: number, partition: number, invocationId: string];
const OUTBOX_END = Number.MAX_SAFE_INTEGER;

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
 * | `outbox`      | [partition, logSeq, index]            | OutboxEntry           |
 * | `positions`   | partition                             | inbox stream sequence |
 * | `applied`     | partition                             | changelog sequence    |
 *
 * LMDB is the working copy of what the partition changelogs hold, never ahead of them: every write
 * is a changelog entry applied by {@link applyLogged} (or a snapshot by {@link importPartition}),
 * and `applied` records, in the same transaction, how far. Reads are synchronous and see applied
 * data only.
 */
export class Store {
  private readonly root: RootDatabase;
  private readonly state: Database<Uint8Array, StateKey>;
  private readonly completions: Database<CompletionRecord, CompletionKey>;
  private readonly expiry: Database<null, ExpiryKey>;
  private readonly outbox: Database<OutboxEntry, OutboxKey>;
  private readonly positions: Database<number, number>;
  private readonly applied: Database<number, number>;
  private readonly positionCache = new Map<number, number>();

  constructor(private readonly path: string) {
    // No fsync: a commit is durable once its changelog entry is, and a host whose LMDB lost its
    // last transactions (a power cut) replays them from the changelog, from `applied` on.
    // No event-turn batching: it gives every turn's writes one more commit promise that nobody
    // holds, and a failed commit (a full disk) rejects it unhandled, which ends the process.
    // Writes that must share a transaction use batch().
    this.root = open({ path, maxDbs: 8, noSync: true, compression: false, eventTurnBatching: false });
    // State values are stored as the msgpack bytes the invocation produced (see StateWrite).
    this.state = this.root.openDB({ name: "state", encoding: "binary" });
    this.completions = this.root.openDB({ name: "completions" });
    this.expiry = this.root.openDB({ name: "expiry" });
    this.outbox = this.root.openDB({ name: "outbox" });
    this.positions = this.root.openDB({ name: "positions" });
    this.applied = this.root.openDB({ name: "applied" });
  }

  /** The changelog sequence of the last entry applied to this partition (0: none). */
  appliedLogSeq(partition: number): number {
    return this.applied.get(partition) ?? 0;
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
  readOutbox(partition: number): Array<{ key: OutboxKey; entry: OutboxEntry }> {
    const out: Array<{ key: OutboxKey; entry: OutboxEntry }> = [];
    for (const { key, value } of this.outbox.getRange({ start: [partition, 0], end: [partition, OUTBOX_END] })) {
      out.push({ key, entry: value });
    }
    return out;
  }

  /**
   * Applies one changelog entry's records in one transaction, with `applied` set to its sequence,
   * and resolves with each record's outbox keys once the transaction has committed. Transactions
   * commit in call order, so entries are applied in log order however many are queued.
   *
   * `batch()` queues the writes from this thread as one block, and lmdb-js's write thread applies
   * every block queued while the previous transaction was being written in ONE transaction.
   */
  async applyLogged(partition: number, logSeq: number, records: readonly CommitRecord[]): Promise<OutboxKey[][]> {
    let keys: OutboxKey[][] = [];
    const writing = this.root.batch(() => {
      let index = 0;
      keys = records.map((record) => this.applyRecord(partition, record, () => [partition, logSeq, index++]));
      this.applied.put(partition, logSeq);
    });
    try {
      await storeWrite(this.path, writing);
    } catch (error) {
      // The cache took this entry's position, which LMDB did not: read it again before the retry.
      this.positionCache.delete(partition);
      throw error;
    }
    return keys;
  }

  private applyRecord(p: number, record: CommitRecord, nextKey: () => OutboxKey): OutboxKey[] {
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
    const keys = record.outbox.map((entry) => {
      const key = nextKey();
      this.outbox.put(key, entry);
      return key;
    });
    this.completions.put([p, record.invocationId], record.completion);
    this.expiry.put([record.completion.expiresAtMs, p, record.invocationId], null);
    // Blocks queued together read the same committed value, so the maximum is kept here.
    if (record.position > this.readPosition(p)) {
      this.positionCache.set(p, record.position);
      this.positions.put(p, record.position);
    }
    return keys;
  }

  /** Forgets published sends; joins the next group commit. Losing it only means publishing again, which dedups. */
  async removeOutbox(keys: readonly OutboxKey[]): Promise<void> {
    await Promise.all(keys.map((key) => storeWrite(this.path, this.outbox.remove(key))));
  }

  /** Everything held for `partition`, read in one consistent view. */
  exportPartition(partition: number): PartitionSnapshot {
    return this.root.transactionSync(() => {
      const snapshot: PartitionSnapshot = {
        partition,
        logSeq: this.appliedLogSeq(partition),
        position: this.positions.get(partition) ?? 0,
        state: [],
        completions: [],
        outbox: [],
      };
      for (const { key, value } of this.state.getRange({ start: [partition], end: [partition + 1] })) {
        snapshot.state.push([key[1], key[2], key[3], value]);
      }
      for (const { key, value } of this.completions.getRange({ start: [partition], end: [partition + 1] })) {
        snapshot.completions.push([key[1], value]);
      }
      for (const { key, value } of this.outbox.getRange({ start: [partition, 0], end: [partition, OUTBOX_END] })) {
        snapshot.outbox.push([key[1], key[2], value]);
      }
      return snapshot;
    });
  }

  /** Replaces everything held for the snapshot's partition by the snapshot, in one transaction. */
  async importPartition(snapshot: PartitionSnapshot): Promise<void> {
    const p = snapshot.partition;
    const writing = this.root.batch(() => {
      for (const k of this.state.getKeys({ start: [p], end: [p + 1] })) this.state.remove(k);
      for (const { key, value } of this.completions.getRange({ start: [p], end: [p + 1] })) {
        this.expiry.remove([value.expiresAtMs, p, key[1]]);
        this.completions.remove(key);
      }
      for (const k of this.outbox.getKeys({ start: [p, 0], end: [p, OUTBOX_END] })) this.outbox.remove(k);
      for (const [object, key, name, value] of snapshot.state) this.state.put([p, object, key, name], value);
      for (const [invocationId, record] of snapshot.completions) {
        this.completions.put([p, invocationId], record);
        this.expiry.put([record.expiresAtMs, p, invocationId], null);
      }
      for (const [logSeq, index, entry] of snapshot.outbox) this.outbox.put([p, logSeq, index], entry);
      this.positionCache.set(p, snapshot.position);
      this.positions.put(p, snapshot.position);
      this.applied.put(p, snapshot.logSeq);
    });
    try {
      await storeWrite(this.path, writing);
    } catch (error) {
      this.positionCache.delete(p);
      throw error;
    }
  }

  /** Drops completion records whose idempotency window has passed; returns how many. */
  async expireCompletions(nowMs: number, limit = 10_000): Promise<number> {
    const expired = [...this.expiry.getKeys({ start: [0], end: [nowMs], limit })];
    if (expired.length === 0) return 0;
    const writing = this.root.batch(() => {
      for (const k of expired) {
        this.expiry.remove(k);
        this.completions.remove([k[1], k[2]]);
      }
    });
    await storeWrite(this.path, writing);
    return expired.length;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
