import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { TerminalError } from "../../../sdk/index.js";
import { FencedError, type PartitionLog, type SnapshotStore, encodeLogEntry } from "./changelog/index.js";
import { CommitTooLargeError, HostClosedError } from "../../errors.js";
import { backoffMs, terminalOutcome } from "../../invoke/index.js";
import { INTERNAL_RETRY } from "../../timing.js";
import type { CommitRecord, Store } from "../../store/index.js";
import { type CommitLog, type Committed, applyUntilWritten } from "../../partition/index.js";

export interface CommitterOptions {
  partition: number;
  hostId: string;
  epoch: number;
  log: PartitionLog;
  store: Store;
  snapshots: SnapshotStore;
  /** Invocations committed between snapshots. */
  snapshotEvery: number;
  /** Largest changelog entry the server takes (its max_payload, less room for headers). */
  maxEntryBytes: number;
  /** Aborted when the partition must stop at once: pending commits fail with `HostClosedError`. */
  signal: AbortSignal;
  logger: Logger;
  /** Hears how long each append that got in took (ms), retries included. */
  onAppend?: (ms: number) => void;
  /** Another host appended to the changelog: this one is no longer the owner. */
  onFenced: (error: FencedError) => void;
}

interface Pending {
  record: CommitRecord;
  resolve: (committed: Committed) => void;
  reject: (error: unknown) => void;
}

const MAX_RECORDS_PER_ENTRY = 512;

/**
 * A partition with any commit since its last snapshot gets a new one at least this often, however
 * few its commits: a new owner re-publishes the sends of the entries after the snapshot, and those
 * must stay well inside the idempotency window (24 h by default) that deduplicates them.
 */
const SNAPSHOT_INTERVAL_MS = 10 * 60 * 1000;

/** Appends are retried often: every invocation of the partition waits on them (a NATS leader election, say). */
const APPEND_RETRY = { ...INTERNAL_RETRY, initialIntervalMs: 50, maxIntervalMs: 1000 };

/**
 * The partition's commit path, log first: the records of every invocation that completed while the
 * previous append was in flight become ONE changelog entry, appended fenced; once JetStream has it,
 * the entry is applied to LMDB, and only then is each record's commit resolved (its sends, ack and
 * reply may leave). A fenced append means another host owns the partition: nothing pending commits.
 */
export class PartitionCommitter implements CommitLog {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  private fenced: FencedError | undefined;
  private sinceSnapshot = 0;
  private snapshotting: Promise<void> | undefined;
  private snapshotDue = false;
  private readonly snapshotTimer: NodeJS.Timeout;

  constructor(private readonly options: CommitterOptions) {
    this.snapshotTimer = setInterval(() => {
      if (this.sinceSnapshot === 0) return;
      // A snapshot must see every applied entry and no half-applied one: taken between commits.
      if (this.running) this.snapshotDue = true;
      else this.startSnapshot();
    }, SNAPSHOT_INTERVAL_MS);
    this.snapshotTimer.unref();
  }

  /**
   * Stops the snapshot timer once nothing is being committed; on a graceful stop, first writes a
   * snapshot of what changed since the last one, so the next owner starts from it.
   */
  async close(options: { snapshot: boolean }): Promise<void> {
    clearInterval(this.snapshotTimer);
    await this.idle();
    if (options.snapshot && this.sinceSnapshot > 0 && !this.fenced) {
      this.startSnapshot();
      await this.idle();
    }
  }

  private startSnapshot(): void {
    if (this.snapshotting) return;
    this.sinceSnapshot = 0;
    this.snapshotDue = false;
    this.snapshotting = this.snapshot().finally(() => (this.snapshotting = undefined));
  }

  commit(record: CommitRecord): Promise<Committed> {
    return new Promise((resolve, reject) => {
      if (this.fenced) return reject(this.fenced);
      this.queue.push({ record, resolve, reject });
      this.running ??= this.run().finally(() => (this.running = undefined));
    });
  }

  /** Resolves when nothing is being committed and no snapshot is being written. */
  async idle(): Promise<void> {
    while (this.running || this.snapshotting) await (this.running ?? this.snapshotting);
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_RECORDS_PER_ENTRY);
      try {
        await this.commitFitting(batch);
      } catch (error) {
        // Rejecting a record already resolved does nothing: only the uncommitted ones fail.
        for (const p of batch) p.reject(error);
        if (error instanceof FencedError || this.options.signal.aborted) {
          for (const p of this.queue.splice(0)) p.reject(error);
        }
      }
    }
  }

  /** Commits a batch as one entry, or as several when it is larger than the server takes. */
  private async commitFitting(items: Pending[]): Promise<void> {
    const { hostId, epoch, log, maxEntryBytes } = this.options;
    const records = items.map((p) => p.record);
    const bytes = encodeLogEntry({ type: "commit", hostId, epoch, prev: log.position, records });
    if (bytes.byteLength <= maxEntryBytes) return this.commitEntry(items, bytes);
    if (items.length > 1) {
      const half = Math.ceil(items.length / 2);
      await this.commitFitting(items.slice(0, half));
      return this.commitFitting(items.slice(half));
    }
    const [only] = items as [Pending];
    const { record } = only;
    // A timers record that fires timers is made small by PartitionTimers; one that accepts a delayed
    // send near the size limit can still be too large: its maker decides what becomes of it.
    if (record.kind === "timers") throw new CommitTooLargeError(`partition ${record.partition}: a timers record of ${bytes.byteLength} bytes exceeds the largest changelog entry (${maxEntryBytes})`);
    // A complete-entry command holds one outcome, which fitted in the message that brought it.
    if (record.kind === "entry") throw new CommitTooLargeError(`${record.invocationId}: entry ${record.index}'s outcome (${bytes.byteLength} bytes) exceeds the largest changelog entry (${maxEntryBytes})`);
    // A suspension point too large: the processor fails the invocation, as below.
    if (record.kind === "progress") {
      throw new CommitTooLargeError(`${record.invocationId}: its journal, state changes and sends since its last suspension point (${bytes.byteLength} bytes) exceed what NATS takes in one message (${maxEntryBytes})`);
    }
    const problem = `${record.invocationId}: its state changes, sends and result (${bytes.byteLength} bytes) exceed what NATS takes in one message (${maxEntryBytes})`;
    this.options.logger.warn({ invocationId: record.invocationId, bytes: bytes.byteLength }, "commit too large; recorded as a failure");
    only.record = {
      ...record,
      stateWrites: [],
      outbox: [],
      completion: { ...record.completion, outcome: terminalOutcome(new TerminalError(problem, { errorCode: 413 })) },
    };
    return this.commitFitting([only]);
  }

  /** Appends one entry (retrying in place until it is in, fenced, or the partition stops), then applies it. */
  private async commitEntry(items: Pending[], bytes: Uint8Array): Promise<void> {
    const { log, store, partition, signal } = this.options;
    const records = items.map((p) => p.record);
    let seq: number | undefined;
    const startedAt = performance.now();
    for (let attempt = 1; seq === undefined; attempt++) {
      if (signal.aborted) throw new HostClosedError(`partition ${partition} stopped before its commit`);
      try {
        seq = await log.append(bytes);
      } catch (error) {
        if (error instanceof FencedError) {
          this.fenced = error;
          this.options.onFenced(error);
          throw error;
        }
        const retryInMs = backoffMs(APPEND_RETRY, attempt);
        this.options.logger.error({ err: error, attempt, retryInMs }, "changelog append failed; retrying");
        await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
      }
    }
    this.options.onAppend?.(performance.now() - startedAt);
    // Durable in the changelog: LMDB must follow. Given up only when the partition stops: LMDB's
    // `applied` then stays behind, and the next take-over replays the entry from the changelog.
    const keys = await applyUntilWritten(store, partition, seq, records, { signal, logger: this.options.logger });
    items.forEach((p, i) => p.resolve({ record: p.record, outboxKeys: keys[i] ?? [] }));
    this.sinceSnapshot += records.length;
    if (this.sinceSnapshot >= this.options.snapshotEvery || this.snapshotDue) this.startSnapshot();
  }

  /**
   * Writes a snapshot of the partition as LMDB holds it now (everything up to the last applied
   * entry), then drops the changelog entries before it. Runs beside new commits.
   */
  private async snapshot(): Promise<void> {
    const { store, snapshots, log, partition, logger } = this.options;
    let logSeq: number | undefined;
    try {
      // Read now, synchronously, between two commits; written while commits go on.
      const snapshot = store.exportPartition(partition);
      logSeq = snapshot.logSeq;
      const bytes = await snapshots.write(snapshot);
      await log.purgeBefore(snapshot.logSeq);
      logger.debug({ logSeq: snapshot.logSeq, bytes }, "snapshot written");
    } catch (err) {
      logger.warn({ err, logSeq }, "snapshot failed; the changelog keeps everything until the next one");
    }
  }
}
