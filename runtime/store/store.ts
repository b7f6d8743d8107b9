import { type Database, type Key, type RootDatabase, open } from "lmdb";
import type { Logger } from "pino";
import { decode } from "../../sdk/internal.js";
import type { CommitRecord, CompletionRecord, HistoryEntry, InboxKey, InboxRow, InvocationRecord, InvocationRow, JournalEntry, Outcome, PromiseWrite, OutboxEntry, OutboxKey, PartitionSnapshot, ProgressRecord, StateWrite, TimerEntry, TimerKey } from "./records.js";
import { CommitChanges, DEFAULT_HISTORY_LIMITS, History, type HistoryLimits } from "./history.js";
import { PendingState } from "./pending-state.js";
import { mergeEntry } from "./journal-merge.js";
import { decodeStateKey, encodeStateKey, objectKeyPrefix, partitionPrefix, prefixEnd } from "./state-keys.js";
import { ConfigError } from "../errors.js";
import { guardOrphanCommitFailures, storeWrite } from "./write-failure.js";

type CompletionKey = [partition: number, invocationId: string];
type ExpiryKey = [expiresAtMs: number, partition: number, invocationId: string];
type InvocationKey = [partition: number, invocationId: string];
type JournalKey = [partition: number, invocationId: string, index: number];
/**
 * Key and name in one string, the key length-prefixed: lmdb-js array keys let two lists of strings
 * holding NUL collide (see state-keys.ts), and object keys and promise names may hold NUL.
 */
type PromiseKey = [partition: number, object: string, keyAndName: string];

function promiseKey(partition: number, object: string, key: string, name: string): PromiseKey {
  return [partition, object, `${key.length}:${key}${name}`];
}

function splitPromiseKey(keyAndName: string): { key: string; name: string } {
  const colon = keyAndName.indexOf(":");
  const length = Number(keyAndName.slice(0, colon));
  return { key: keyAndName.slice(colon + 1, colon + 1 + length), name: keyAndName.slice(colon + 1 + length) };
}
const OUTBOX_END = Number.MAX_SAFE_INTEGER;

/**
 * The layout this code reads and writes, kept in the `meta` db. 5: `history` and `history-age` dbs
 * (a format-3 or -4 data dir is upgraded in place: they start empty, the key's history starts at
 * the upgrade). 4: `invocations` and `journal` dbs (a format-3 data dir is upgraded in place). 3: outbox entries name their target
 * partition, `timers` and `inbox` dbs. 2: binary `state` keys (see state-keys.ts); before it,
 * lmdb-js array keys, which let keys holding NUL collide.
 */
const STORE_FORMAT = 5;
/** Formats this code upgrades in place by marking them: they only lack dbs that start empty. */
const UPGRADABLE_FORMATS: ReadonlySet<unknown> = new Set([3, 4]);

/** Where a commit puts its sends: the outbox, for a relay to publish (NATS), or straight into the targets' inboxes (embedded). */
export type SendRouting = "outbox" | "inbox";

export interface StoreOptions {
  /**
   * Every transaction is synced to disk before it resolves: embedded mode, where LMDB is the only
   * copy. NATS mode does without, since the changelog is durable first. @default false
   */
  sync?: boolean;
  /** Where commits put their sends. @default "outbox" */
  routing?: SendRouting;
  /** Hears, once, that a data dir in an older format was cleared. */
  log?: Logger;
  /** How much of each object key's state history is kept. @default 24 h, the newest 100 entries per key */
  history?: HistoryLimits;
}

/** The db key a state write touches: the entry's key, or for `clearAll` the prefix of the object key's entries. */
function stateWriteKey(partition: number, write: StateWrite): Buffer {
  switch (write.type) {
    case "set":
    case "delete":
      return encodeStateKey({ partition, object: write.object, key: write.key, name: write.name });
    case "clearAll":
      return objectKeyPrefix(partition, write.object, write.key);
    default: {
      const unreachable: never = write;
      throw new Error(`unknown state write ${String(unreachable)}`);
    }
  }
}

/**
 * The host's LMDB environment. Key layout (every key starts with the partition, so a partition's
 * data is one contiguous range and can move between hosts):
 *
 * | db            | key                                   | value                 |
 * | ------------- | ------------------------------------- | --------------------- |
 * | `state`       | binary (partition, object, key, name) | the entry's value     |
 * | `completions` | [partition, invocationId]             | CompletionRecord      |
 * | `expiry`      | [expiresAtMs, partition, invocationId] | null (GC index)      |
 * | `outbox`      | [partition, logSeq, index]            | OutboxEntry           |
 * | `positions`   | partition                             | inbox stream sequence |
 * | `applied`     | partition                             | changelog sequence    |
 * | `meta`        | "format"                              | {@link STORE_FORMAT}  |
 * | `timers`      | [partition, dueMs, id]                | TimerEntry            |
 * | `invocations` | [partition, invocationId]             | InvocationRow         |
 * | `journal`     | [partition, invocationId, index]      | JournalEntry          |
 * | `promises`    | [partition, object, key, name]        | Outcome (workflows)   |
 * | `inbox`       | [partition, seq] (embedded mode)      | InboxRow              |
 * | `history`     | binary (partition, object, key), logSeq, index, atMs | HistoryEntry |
 * | `history-age` | binary atMs, then the `history` key   | null (pruning index)  |
 *
 * `state` keys are built by state-keys.ts: length-prefixed UTF-8, so that no object key's range
 * reaches into another's. The other keys hold numbers and invocation ids (a checked pattern).
 *
 * LMDB is the working copy of what the partition changelogs hold, never ahead of them: every write
 * is a changelog entry applied by {@link applyLogged} (or a snapshot by {@link importPartition}),
 * and `applied` records, in the same transaction, how far. Reads are synchronous and see applied
 * data only.
 */
export class Store {
  private readonly root: RootDatabase;
  private readonly state: Database<Uint8Array, Uint8Array>;
  private readonly completions: Database<CompletionRecord, CompletionKey>;
  private readonly expiry: Database<null, ExpiryKey>;
  private readonly outbox: Database<OutboxEntry, OutboxKey>;
  private readonly positions: Database<number, number>;
  private readonly applied: Database<number, number>;
  private readonly meta: Database<number | string, string>;
  private readonly timers: Database<TimerEntry, TimerKey>;
  private readonly inbox: Database<InboxRow, InboxKey>;
  /** The last inbox sequence ever used per partition: rows are deleted once handled, and a sequence is never used twice. */
  private readonly inboxSeq: Database<number, number>;
  private readonly invocations: Database<InvocationRow, InvocationKey>;
  private readonly journal: Database<JournalEntry, JournalKey>;
  private readonly promises: Database<Outcome, PromiseKey>;
  private readonly history: History;
  private readonly historyEntries: Database<HistoryEntry, Buffer>;
  private readonly historyAges: Database<null, Buffer>;
  private readonly positionCache = new Map<number, number>();
  /** The last inbox sequence used per partition (embedded mode), read from the db on first use. */
  private readonly inboxSeqs = new Map<number, number>();
  private readonly releaseGuard: () => void;
  private readonly routing: SendRouting;

  constructor(
    private readonly path: string,
    options: StoreOptions = {},
  ) {
    const { log } = options;
    this.routing = options.routing ?? "outbox";
    // No fsync: a commit is durable once its changelog entry is, and a host whose LMDB lost its
    // last transactions (a power cut) replays them from the changelog, from `applied` on.
    // Event-turn batching stays on: with it off, lmdb-js can leave the last queued batch of a burst
    // uncommitted for good (seen: a partition's last commits hanging under load). The rejection of
    // its per-turn commit promise, which nobody holds, is dropped by `guardOrphanCommitFailures`.
    // Embedded mode has no changelog: there, every transaction is synced (one fsync per group commit).
    this.root = open({ path, maxDbs: 16, noSync: !options.sync, compression: false });
    this.releaseGuard = guardOrphanCommitFailures();
    // State values are stored as the msgpack bytes the invocation produced (see StateWrite).
    this.state = this.root.openDB({ name: "state", encoding: "binary", keyEncoding: "binary" });
    this.completions = this.root.openDB({ name: "completions" });
    this.expiry = this.root.openDB({ name: "expiry" });
    this.outbox = this.root.openDB({ name: "outbox" });
    this.positions = this.root.openDB({ name: "positions" });
    this.applied = this.root.openDB({ name: "applied" });
    this.meta = this.root.openDB({ name: "meta" });
    this.timers = this.root.openDB({ name: "timers" });
    this.inbox = this.root.openDB({ name: "inbox" });
    this.inboxSeq = this.root.openDB({ name: "inbox-seq" });
    this.invocations = this.root.openDB({ name: "invocations" });
    this.journal = this.root.openDB({ name: "journal" });
    this.promises = this.root.openDB({ name: "promises" });
    this.historyEntries = this.root.openDB({ name: "history", keyEncoding: "binary" });
    this.historyAges = this.root.openDB({ name: "history-age", keyEncoding: "binary" });
    this.history = new History(this.historyEntries, this.historyAges, options.history ?? DEFAULT_HISTORY_LIMITS);
    try {
      this.ensureFormat(path, log);
    } catch (error) {
      // Refused: nothing of it stays open.
      this.releaseGuard();
      void this.root.close();
      throw error;
    }
  }

  /**
   * Which mode a data dir belongs to, and in which format it is. NATS mode: a data dir written in
   * another format is cleared, never read (its keys would mean something else); that loses nothing,
   * because LMDB is only a working copy of the changelogs: with `applied` at 0, every partition is
   * restored from its newest snapshot and changelog when it is taken. Embedded mode: LMDB is the
   * only copy, so such a data dir is refused, never cleared; and so is a data dir of the other mode,
   * whose tables mean something else in this one.
   */
  private ensureFormat(path: string, log: Logger | undefined): void {
    const mode = this.routing === "inbox" ? "embedded" : "nats";
    const found = this.meta.get("format");
    const dbs = [this.state, this.completions, this.expiry, this.outbox, this.positions, this.applied, this.timers, this.inbox, this.inboxSeq, this.invocations, this.journal, this.promises, this.historyEntries, this.historyAges] as const;
    const holdsData = dbs.some((db) => db.getKeysCount({ limit: 1 }) > 0);
    // Before modes were recorded: only embedded hosts recorded a partition count in the data dir.
    const recordedMode = this.meta.get("mode") ?? (this.meta.get("partitions") !== undefined ? "embedded" : holdsData ? "nats" : undefined);
    if (recordedMode !== undefined && recordedMode !== mode) {
      throw new ConfigError(
        `the data dir ${path} belongs to a host in ${recordedMode} mode; a host in ${mode} mode needs a data dir of its own (its tables mean something else there)`,
      );
    }
    if (found !== STORE_FORMAT && holdsData && !UPGRADABLE_FORMATS.has(found)) {
      if (mode === "embedded") {
        throw new ConfigError(
          `the data dir ${path} holds embedded-mode data in format ${String(found ?? 1)}, and this version reads format ${STORE_FORMAT}; it is the only copy of that data, so it is not cleared: run the version that wrote it`,
        );
      }
      // The marker goes last: a crash half-way leaves an unmarked data dir, cleared again at the next start.
      for (const db of dbs) db.clearSync();
      log?.info({ path, format: found ?? 1, newFormat: STORE_FORMAT }, "LMDB data in an older format cleared; partitions are restored from their snapshots and changelogs");
    }
    if (found !== STORE_FORMAT) this.meta.putSync("format", STORE_FORMAT);
    if (recordedMode === undefined) this.meta.putSync("mode", mode);
  }

  /**
   * Waits for a write, rejecting with a `StoreWriteError` that names the data dir when LMDB cannot
   * commit it (the orphan copy of that failure lmdb-js makes is dropped: `guardOrphanCommitFailures`).
   * A write that moved `partition`'s position forgets the cached one when it fails: the cache took a
   * position LMDB did not, and the retry must read it again.
   */
  private async written<T>(write: Promise<T>, partition?: number): Promise<T> {
    try {
      return await storeWrite(this.path, write);
    } catch (error) {
      if (partition !== undefined) this.positionCache.delete(partition);
      throw error;
    }
  }

  /**
   * Embedded mode: the data dir is the namespace, so its partition count is fixed by the first start,
   * as a NATS namespace's is by its inbox stream. Another count would hash keys to partitions whose
   * tables hold none of their state.
   */
  checkPartitions(partitions: number): void {
    const recorded = this.meta.get("partitions");
    if (recorded === undefined) {
      this.meta.putSync("partitions", partitions);
      return;
    }
    if (recorded !== partitions) {
      throw new ConfigError(`the data dir ${this.path} was created with ${recorded} partitions, but this host is configured with ${partitions}; partitions are fixed when a data dir is first used`);
    }
  }

  /** The changelog sequence of the last entry applied to this partition (0: none). */
  appliedLogSeq(partition: number): number {
    return this.applied.get(partition) ?? 0;
  }

  /** One state entry's value as stored (msgpack), or `undefined`. */
  readStateBytes(partition: number, object: string, key: string, name: string): Uint8Array | undefined {
    return this.state.get(encodeStateKey({ partition, object, key, name }));
  }

  /** The decoded value of one state entry, or `undefined`. */
  readState(partition: number, object: string, key: string, name: string): unknown {
    const bytes = this.state.get(encodeStateKey({ partition, object, key, name }));
    return bytes === undefined ? undefined : decode(bytes);
  }

  readStateNames(partition: number, object: string, key: string): string[] {
    const names: string[] = [];
    const prefix = objectKeyPrefix(partition, object, key);
    for (const k of this.state.getKeys({ start: prefix, end: prefixEnd(prefix) })) names.push(decodeStateKey(k).name);
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

  /** The partition's earliest timer, if any. */
  earliestTimer(partition: number): TimerEntry | undefined {
    for (const { value } of this.timers.getRange({ ...timerRange(partition), limit: 1 })) return value;
    return undefined;
  }

  /** The partition's timers due at `nowMs`, earliest first. */
  dueTimers(partition: number, nowMs: number, limit: number): TimerEntry[] {
    return [...this.timers.getRange({ start: [partition, 0, ""], end: [partition, nowMs, "\uffff"], limit })].map(({ value }) => value);
  }

  /** How many timers the partition holds. */
  countTimers(partition: number): number {
    return this.timers.getKeysCount(timerRange(partition));
  }

  /** The partition's timers (delayed sends), earliest first: for the admin endpoint. */
  readTimers(partition: number): TimerEntry[] {
    return [...this.timers.getRange(timerRange(partition))].map(({ value }) => value);
  }

  /** How many messages wait in the partition's inbox table (embedded mode), delivered or not. */
  countInbox(partition: number): number {
    return this.inbox.getKeysCount({ start: [partition, 0], end: [partition, Number.MAX_SAFE_INTEGER] });
  }

  /** How many committed sends of the partition wait to be published (NATS mode). */
  countOutbox(partition: number): number {
    return this.outbox.getKeysCount({ start: [partition, 0], end: [partition, OUTBOX_END] });
  }

  /**
   * Completion records of `partitions` still within their idempotency window, latest expiry (so
   * latest completion) first, at most `limit` of those `keep` accepts: for the admin endpoint.
   */
  recentCompletions(partitions: ReadonlySet<number>, limit: number, keep: (record: CompletionRecord) => boolean): Array<{ partition: number; invocationId: string; record: CompletionRecord }> {
    const out: Array<{ partition: number; invocationId: string; record: CompletionRecord }> = [];
    if (limit <= 0) return out;
    for (const key of this.expiry.getKeys({ reverse: true })) {
      const [, partition, invocationId] = key;
      if (!partitions.has(partition)) continue;
      const record = this.completions.get([partition, invocationId]);
      if (!record || !keep(record)) continue;
      out.push({ partition, invocationId, record });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The partition's live invocations (see {@link InvocationRow}), in no particular order. */
  readInvocations(partition: number): Array<{ invocationId: string; row: InvocationRow }> {
    return [...this.invocations.getRange({ start: [partition], end: [partition + 1] })].map(({ key, value }) => ({ invocationId: key[1], row: value }));
  }

  /** A workflow promise's outcome, once it is resolved or rejected. */
  readPromise(partition: number, object: string, key: string, name: string): Outcome | undefined {
    return this.promises.get(promiseKey(partition, object, key, name));
  }

  /** An invocation's journal, by index. */
  readJournal(partition: number, invocationId: string): Map<number, JournalEntry> {
    const entries = new Map<number, JournalEntry>();
    for (const { key, value } of this.journal.getRange(journalRange(partition, invocationId))) entries.set(key[2], value);
    return entries;
  }

  /** Embedded mode: inbox rows of `partition` after `afterSeq`, in arrival order. */
  readInbox(partition: number, afterSeq: number, limit: number): Array<{ key: InboxKey; row: InboxRow }> {
    const out: Array<{ key: InboxKey; row: InboxRow }> = [];
    for (const { key, value } of this.inbox.getRange({ start: [partition, afterSeq + 1], end: [partition, Number.MAX_SAFE_INTEGER], limit })) {
      out.push({ key, row: value });
    }
    return out;
  }

  /**
   * Embedded mode: appends invocations from outside (a client's calls and sends) to inboxes, in one
   * transaction. Says at once where each row lands; `written` resolves once it is durable.
   */
  appendInbox(rows: ReadonlyArray<{ partition: number; row: InboxRow }>): { keys: InboxKey[]; written: Promise<void> } {
    let keys: InboxKey[] = [];
    // lmdb-js runs the callback now (the keys are known) and commits it with the next transaction.
    const writing = this.root.batch(() => {
      keys = rows.map(({ partition, row }) => this.putInbox(partition, row));
    });
    return { keys, written: this.written(writing).then(() => undefined) };
  }

  /**
   * Embedded mode, as a partition starts: its first `limit` rows (those its last run could have had
   * in flight when it stopped) count one more delivery, so that an invocation that keeps taking the
   * process down is seen as such (`Delivery.deliveries`). One write per start, none per message.
   */
  async countRedeliveries(partition: number, limit: number): Promise<void> {
    const rows = this.readInbox(partition, 0, limit);
    if (rows.length === 0) return;
    await this.written(
      this.root.batch(() => {
        for (const { key, row } of rows) this.inbox.put(key, { ...row, deliveries: (row.deliveries ?? 1) + 1 });
      }),
      partition,
    );
  }

  /** Forgets handled inbox rows; joins the next transaction (a row seen again is answered from its completion). */
  async removeInbox(keys: readonly InboxKey[]): Promise<void> {
    await this.removeAll(this.inbox, keys);
  }

  /** Deletes `keys` from `db` in one write, joining the next transaction. */
  private async removeAll<K extends Key>(db: Database<unknown, K>, keys: readonly K[]): Promise<void> {
    await this.written(
      this.root.batch(() => {
        for (const key of keys) db.remove(key);
      }),
    );
  }

  /**
   * Sequences only grow, across restarts too: a reader that has passed a sequence never looks
   * behind it again, so one used anew after its rows were deleted would never be read.
   */
  private putInbox(partition: number, row: InboxRow): InboxKey {
    const seq = (this.inboxSeqs.get(partition) ?? this.inboxSeq.get(partition) ?? 0) + 1;
    this.inboxSeqs.set(partition, seq);
    this.inboxSeq.put(partition, seq);
    const key: InboxKey = [partition, seq];
    this.inbox.put(key, row);
    return key;
  }

  /** Applies one changelog entry's records; see {@link applyEntries}. */
  async applyLogged(partition: number, logSeq: number, records: readonly CommitRecord[]): Promise<OutboxKey[][]> {
    const [keys] = await this.applyEntries(partition, [{ logSeq, records }]);
    return keys ?? [];
  }

  /**
   * Applies consecutive changelog entries of one partition in ONE transaction, with `applied` set
   * to the last one's sequence, and resolves with each entry's records' outbox keys once it has
   * committed. All of them or none: a failed write (a full disk) can never leave `applied` past an
   * entry LMDB does not hold, which separate transactions queued together could.
   */
  async applyEntries(partition: number, entries: ReadonlyArray<{ logSeq: number; records: readonly CommitRecord[] }>): Promise<OutboxKey[][][]> {
    const last = entries.at(-1);
    if (!last) return [];
    // Encoded before the batch: lmdb-js commits the writes a batch made before one that throws.
    const stateKeys = entries.map(({ records }) => records.map((record) => (record.kind === "timers" || record.kind === "entry" ? [] : record.stateWrites.map((write) => stateWriteKey(partition, write)))));
    let keys: OutboxKey[][][] = [];
    const writing = this.root.batch(() => {
      const batch: Batch = { state: new PendingState(this.state), addHistory: this.history.enabled ? this.history.writer() : undefined };
      keys = entries.map(({ logSeq, records }, e) => {
        let index = 0;
        return records.map((record, i) => this.applyRecord(partition, record, stateKeys[e]?.[i] ?? [], () => [partition, logSeq, index++], { batch, logSeq, index: i }));
      });
      this.applied.put(partition, last.logSeq);
    });
    await this.written(writing, partition);
    return keys;
  }

  private applyRecord(p: number, record: CommitRecord, stateKeys: readonly Buffer[], nextKey: () => OutboxKey, at: RecordPlace): OutboxKey[] {
    switch (record.kind) {
      case "timers":
        for (const timer of record.added) this.timers.put(timerKey(p, timer), timer);
        for (const key of record.fired) this.timers.remove(key);
        break;
      case "progress":
        this.applyStateWrites(p, record, stateKeys, at);
        for (const timer of record.timers ?? []) this.timers.put(timerKey(p, timer), timer);
        this.invocations.put([p, record.invocationId], record.row);
        for (const [index, entry] of record.journal) this.putEntry([p, record.invocationId, index], entry);
        this.applyPromises(p, record.promises);
        break;
      case "entry":
        this.putEntry([p, record.invocationId, record.index], record.entry);
        if (record.row) this.invocations.put([p, record.invocationId], record.row);
        break;
      case "invocation":
      case undefined:
        this.applyInvocation(p, record, stateKeys, at);
        break;
      default: {
        const unreachable: never = record;
        throw new Error(`unknown record ${String(unreachable)}`);
      }
    }
    // Blocks queued together read the same committed value, so the maximum is kept here.
    if (record.position > this.readPosition(p)) {
      this.positionCache.set(p, record.position);
      this.positions.put(p, record.position);
    }
    if (this.routing === "inbox") {
      for (const entry of record.outbox) this.putInbox(entry.partition, { envelope: entry.envelope, data: entry.data });
      return [];
    }
    return record.outbox.map((entry) => {
      const key = nextKey();
      this.outbox.put(key, entry);
      return key;
    });
  }

  private applyInvocation(p: number, record: InvocationRecord, stateKeys: readonly Buffer[], at: RecordPlace): void {
    this.applyStateWrites(p, record, stateKeys, at);
    for (const timer of record.timers ?? []) this.timers.put(timerKey(p, timer), timer);
    this.applyPromises(p, record.promises);
    this.completions.put([p, record.invocationId], record.completion);
    this.expiry.put([record.completion.expiresAtMs, p, record.invocationId], null);
    if (record.endsRow) {
      this.invocations.remove([p, record.invocationId]);
      for (const key of this.journal.getKeys(journalRange(p, record.invocationId))) this.journal.remove(key);
    }
  }

  /** Writes a journal entry, keeping what an earlier version of the same wait knew more of (see `mergeEntry`). */
  private putEntry(key: JournalKey, entry: JournalEntry): void {
    this.journal.put(key, mergeEntry(this.journal.get(key), entry));
  }

  /** The first resolution of a promise wins: a later one changes nothing. */
  private applyPromises(p: number, writes: readonly PromiseWrite[] | undefined): void {
    for (const { object, key, name, outcome } of writes ?? []) {
      const at = promiseKey(p, object, key, name);
      if (this.promises.get(at) === undefined) this.promises.put(at, outcome);
    }
  }

  /**
   * Applies a record's state writes, and adds a history entry per object key they changed, with the
   * values before as this replica's store holds them (records written before history have no time
   * and handler: they add none).
   */
  private applyStateWrites(p: number, record: InvocationRecord | ProgressRecord, stateKeys: readonly Buffer[], { batch, logSeq, index }: RecordPlace): void {
    const { state, addHistory } = batch;
    const { atMs, handler } = record;
    const changes = addHistory && atMs !== undefined && handler !== undefined ? new CommitChanges() : undefined;
    for (const [i, write] of record.stateWrites.entries()) {
      const key = stateKeys[i] as Buffer;
      switch (write.type) {
        case "set":
          changes?.note(write.object, write.key, write.name, state.get(key), write.value);
          state.put(key, write.value);
          break;
        case "delete":
          changes?.note(write.object, write.key, write.name, state.get(key), undefined);
          state.remove(key);
          break;
        case "clearAll":
          for (const k of state.keysUnder(key)) {
            changes?.note(write.object, write.key, decodeStateKey(k).name, state.get(k), undefined);
            state.remove(k);
          }
          break;
        default: {
          const unreachable: never = write;
          throw new Error(`unknown state write ${String(unreachable)}`);
        }
      }
    }
    if (changes && atMs !== undefined && handler !== undefined) addHistory?.(p, { logSeq, index }, { atMs, invocationId: record.invocationId, handler }, changes);
  }

  /** An object key's state history, newest first: up to `limit` of the commits that changed it (see {@link HistoryEntry}). */
  /** Whether this store keeps state history (`historyEntriesPerKey` > 0). */
  get historyKept(): boolean {
    return this.history.enabled;
  }

  readHistory(partition: number, object: string, key: string, limit: number): HistoryEntry[] {
    return this.history.read(partition, object, key, limit);
  }

  /** Forgets published sends; joins the next group commit. Losing it only means publishing again, which dedups. */
  async removeOutbox(keys: readonly OutboxKey[]): Promise<void> {
    await this.removeAll(this.outbox, keys);
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
        timers: [...this.timers.getRange(timerRange(partition))].map(({ value }) => value),
        invocations: this.readInvocations(partition).map(({ invocationId, row }) => [invocationId, row]),
        journal: [...this.journal.getRange({ start: [partition], end: [partition + 1] })].map(({ key, value }) => [key[1], key[2], value]),
        promises: [...this.promises.getRange({ start: [partition], end: [partition + 1] })].map(({ key, value }) => ({ object: key[1], ...splitPromiseKey(key[2]), outcome: value })),
        history: this.history.export(partition),
      };
      const prefix = partitionPrefix(partition);
      for (const { key, value } of this.state.getRange({ start: prefix, end: prefixEnd(prefix) })) {
        const entry = decodeStateKey(key);
        snapshot.state.push([entry.object, entry.key, entry.name, value]);
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
    const prefix = partitionPrefix(p);
    // Encoded before the batch, as in applyLogged: a snapshot that cannot be imported changes nothing.
    const state = snapshot.state.map(([object, key, name, value]) => [encodeStateKey({ partition: p, object, key, name }), value] as const);
    const writing = this.root.batch(() => {
      for (const k of this.state.getKeys({ start: prefix, end: prefixEnd(prefix) })) this.state.remove(k);
      for (const { key, value } of this.completions.getRange({ start: [p], end: [p + 1] })) {
        this.expiry.remove([value.expiresAtMs, p, key[1]]);
        this.completions.remove(key);
      }
      for (const k of this.outbox.getKeys({ start: [p, 0], end: [p, OUTBOX_END] })) this.outbox.remove(k);
      for (const k of this.timers.getKeys(timerRange(p))) this.timers.remove(k);
      for (const timer of snapshot.timers ?? []) this.timers.put(timerKey(p, timer), timer);
      for (const k of this.invocations.getKeys({ start: [p], end: [p + 1] })) this.invocations.remove(k);
      for (const k of this.journal.getKeys({ start: [p], end: [p + 1] })) this.journal.remove(k);
      for (const [invocationId, row] of snapshot.invocations ?? []) this.invocations.put([p, invocationId], row);
      for (const [invocationId, index, entry] of snapshot.journal ?? []) this.journal.put([p, invocationId, index], entry);
      for (const k of this.promises.getKeys({ start: [p], end: [p + 1] })) this.promises.remove(k);
      for (const { object, key, name, outcome } of snapshot.promises ?? []) this.promises.put(promiseKey(p, object, key, name), outcome);
      for (const [key, value] of state) this.state.put(key, value);
      this.history.replace(p, snapshot.history ?? []);
      for (const [invocationId, record] of snapshot.completions) {
        this.completions.put([p, invocationId], record);
        this.expiry.put([record.expiresAtMs, p, invocationId], null);
      }
      for (const [logSeq, index, entry] of snapshot.outbox) this.outbox.put([p, logSeq, index], entry);
      this.positionCache.set(p, snapshot.position);
      this.positions.put(p, snapshot.position);
      this.applied.put(p, snapshot.logSeq);
    });
    await this.written(writing, p);
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
    await this.written(writing);
    return expired.length;
  }

  /** Drops state history entries older than the retention window at `nowMs`; returns how many. */
  async expireHistory(nowMs: number, limit = 10_000): Promise<number> {
    let expired = 0;
    const writing = this.root.batch(() => {
      expired = this.history.expire(nowMs - this.history.limits.retentionMs, limit);
    });
    await this.written(writing);
    return expired;
  }

  async close(): Promise<void> {
    await this.root.close();
    this.releaseGuard();
  }
}

/** What the records applied in one transaction share: the state as they leave it, and their history. */
interface Batch {
  state: PendingState;
  addHistory: ReturnType<History["writer"]> | undefined;
}

/** A record's place: its transaction, its changelog entry, and its index among that entry's records. */
interface RecordPlace {
  batch: Batch;
  logSeq: number;
  index: number;
}

/** Where a timer waits in its partition's `timers` range: due time first, so the earliest comes first. */
export function timerKey(partition: number, timer: Pick<TimerEntry, "dueMs" | "id">): TimerKey {
  return [partition, timer.dueMs, timer.id];
}

/**
 * All of a partition's timer keys. Bounded by the next partition, not by a largest due time: a
 * delay of up to Number.MAX_SAFE_INTEGER ms is accepted, and its due time lies beyond that.
 */
function timerRange(partition: number): { start: TimerKey; end: TimerKey } {
  return { start: [partition, 0, ""], end: [partition + 1, 0, ""] };
}

/** All journal keys of one invocation. */
function journalRange(partition: number, invocationId: string): { start: JournalKey; end: JournalKey } {
  return { start: [partition, invocationId, 0], end: [partition, invocationId, Number.MAX_SAFE_INTEGER] };
}
