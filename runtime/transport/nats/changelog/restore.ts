import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { CorruptPartitionDataError } from "../../../errors.js";
import { within } from "../../../timing.js";
import type { CommitRecord, Store } from "../../../store/index.js";
import { type LogEntry, decodeLogEntry, encodeLogEntry } from "./log-entry.js";
import { FencedError, type PartitionLog } from "./partition-log.js";
import type { SnapshotStore } from "./snapshots.js";

export interface TakeOverReport {
  /** The sequence of this owner's epoch entry: its appends follow it. */
  epochSeq: number;
  /** Set when the partition was loaded from a snapshot. */
  snapshotSeq?: number;
  /** Changelog entries replayed into LMDB. */
  replayed: number;
}

const MAX_ROUNDS = 20;

/**
 * Object store listings and reads have no timeout of their own in nats.js; one that stalls (seen
 * after NATS was paused) fails the take-over, which is tried again, instead of holding it.
 */
const SNAPSHOT_OP_MS = 10_000;

/** Changelog entries applied to LMDB in one transaction during a replay. */
const REPLAY_GROUP = 256;

/** The chain broke under the reader: entries it needed were purged after a newer snapshot. */
class GapError extends Error {}

/**
 * Makes this host the writer of a partition's changelog: brings LMDB up to the log's end (from the
 * newest snapshot when LMDB is behind it or empty, then the entries after), then appends an `epoch`
 * entry, fenced at that end. Once it is in, every append of an earlier owner fails. If anyone
 * appended in between, or entries vanished under the reader, it starts over.
 */
export async function takeOver(args: {
  partition: number;
  hostId: string;
  epoch: number;
  store: Store;
  log: PartitionLog;
  snapshots: SnapshotStore;
  logger: Logger;
  signal: AbortSignal;
}): Promise<TakeOverReport> {
  const { partition, store, log, snapshots } = args;
  let replayed = 0;
  let snapshotSeq: number | undefined;
  let trustLocal = true;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    if (args.signal.aborted) throw new Error(`partition ${partition}: take-over cancelled`);
    const end = await log.refresh();
    let applied = store.appliedLogSeq(partition);
    const [newest] = await within(snapshots.list(partition), SNAPSHOT_OP_MS, `partition ${partition}: listing its snapshots`);
    // LMDB ahead of the log means the log is not the one LMDB was built from (a recreated stream).
    try {
      if (!trustLocal || applied > end || (newest && newest.logSeq > applied)) {
        const read = newest ? await within(snapshots.read(newest.name, partition), SNAPSHOT_OP_MS, `partition ${partition}: reading snapshot ${newest.name}`) : undefined;
        // Deleted between list and read: a newer one replaced it.
        if (newest && !read) throw new GapError(`snapshot ${newest.name} is gone`);
        const snapshot = read ?? { partition, logSeq: 0, position: 0, state: [], completions: [], outbox: [] };
        await store.importPartition(snapshot);
        applied = snapshot.logSeq;
        snapshotSeq = newest?.logSeq;
      }
      replayed += await replay(store, log, partition, applied, args.signal);
    } catch (error) {
      if (!(error instanceof GapError)) throw error;
      args.logger.info({ err: error.message }, "changelog moved on under the restore; loading the newest snapshot");
      trustLocal = false;
      await sleep(Math.min(1000, 50 * round));
      continue;
    }
    if (args.signal.aborted) throw new Error(`partition ${partition}: take-over cancelled`);
    const marker: LogEntry = { type: "epoch", hostId: args.hostId, epoch: args.epoch, prev: log.position };
    try {
      const epochSeq = await log.append(encodeLogEntry(marker));
      await store.applyLogged(partition, epochSeq, []);
      return { epochSeq, snapshotSeq, replayed };
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
      args.logger.info({ round }, "another writer appended while this host took over; catching up again");
    }
  }
  throw new Error(`partition ${partition}: could not take over the changelog in ${MAX_ROUNDS} rounds; another writer keeps appending`);
}

/** Applies the entries after `from`, checking that each one follows the one before. */
async function replay(store: Store, log: PartitionLog, partition: number, from: number, signal: AbortSignal): Promise<number> {
  let expectedPrev = from;
  let count = 0;
  // Entries are applied in groups, one transaction each, each awaited before the next is queued:
  // a failed group leaves `applied` at the end of the group before it, never past a missing entry.
  let group: Array<{ logSeq: number; records: CommitRecord[] }> = [];
  const flush = async () => {
    const entries = group;
    group = [];
    await store.applyEntries(partition, entries);
  };
  // Entries that do not decode stop the replay, unless the entry right after them is an operator's
  // `skip` of exactly them: the chain then goes on from the entry before the first of them.
  let corrupt: Array<{ seq: number; error: CorruptPartitionDataError }> = [];
  for await (const { seq, data } of log.read(from, { signal })) {
    if (signal.aborted) throw new Error(`partition ${partition}: take-over cancelled`);
    let entry: LogEntry;
    try {
      entry = decodeLogEntry(data, seq, partition);
    } catch (error) {
      if (!(error instanceof CorruptPartitionDataError)) throw error;
      corrupt.push({ seq, error });
      continue;
    }
    const [firstCorrupt] = corrupt;
    if (firstCorrupt) {
      const seqs = corrupt.map((c) => c.seq);
      const skipsThem =
        entry.type === "skip" &&
        entry.skipped.length === seqs.length &&
        entry.skipped.every((s, i) => s === seqs[i]) &&
        entry.prev === seqs.at(-1) &&
        entry.resumeAfter === expectedPrev;
      if (!skipsThem) throw firstCorrupt.error;
      corrupt = [];
      expectedPrev = entry.prev;
    }
    if (entry.prev !== expectedPrev) throw new GapError(`entry ${seq} follows ${entry.prev}, but the reader is at ${expectedPrev}`);
    group.push({ logSeq: seq, records: entry.type === "commit" ? entry.records : [] });
    expectedPrev = seq;
    count++;
    if (group.length >= REPLAY_GROUP) await flush();
  }
  await flush();
  if (corrupt[0]) throw corrupt[0].error;
  if (expectedPrev !== log.position) throw new GapError(`the log ends at ${log.position}, but the reader stopped at ${expectedPrev}`);
  return count;
}
