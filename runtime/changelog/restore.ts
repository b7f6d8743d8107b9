import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { CorruptPartitionDataError } from "../errors.js";
import type { Store } from "../store/index.js";
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
    const [newest] = await snapshots.list(partition);
    // LMDB ahead of the log means the log is not the one LMDB was built from (a recreated stream).
    try {
      if (!trustLocal || store.mayHaveHoles(partition) || applied > end || (newest && newest.logSeq > applied)) {
        const read = newest ? await snapshots.read(newest.name, partition) : undefined;
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
  const pending: Array<Promise<unknown>> = [];
  // An entry that does not decode stops the replay, unless the entry right after it is an operator's
  // `skip` of it: the chain then goes on from the entry before the corrupt one.
  let corrupt: { seq: number; error: CorruptPartitionDataError } | undefined;
  try {
    for await (const { seq, data } of log.read(from, { signal })) {
      if (signal.aborted) throw new Error(`partition ${partition}: take-over cancelled`);
      let entry: LogEntry;
      try {
        entry = decodeLogEntry(data, seq, partition);
      } catch (error) {
        if (!(error instanceof CorruptPartitionDataError) || corrupt) throw corrupt?.error ?? error;
        corrupt = { seq, error };
        continue;
      }
      if (corrupt) {
        if (entry.type !== "skip" || entry.skipped !== corrupt.seq || entry.prev !== corrupt.seq || entry.resumeAfter !== expectedPrev) throw corrupt.error;
        corrupt = undefined;
        expectedPrev = entry.prev;
      }
      if (entry.prev !== expectedPrev) throw new GapError(`entry ${seq} follows ${entry.prev}, but the reader is at ${expectedPrev}`);
      // Queued without waiting: LMDB applies them in call order, several per transaction.
      const applying = store.applyLogged(partition, seq, entry.type === "commit" ? entry.records : []);
      applying.catch(() => undefined); // observed below; meanwhile a failure must not count as unhandled
      pending.push(applying);
      expectedPrev = seq;
      count++;
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
  } finally {
    // Whatever happens, nothing queued is left to fail unobserved.
    await Promise.allSettled(pending.splice(0));
  }
  if (corrupt) throw corrupt.error;
  if (expectedPrev !== log.position) throw new GapError(`the log ends at ${log.position}, but the reader stopped at ${expectedPrev}`);
  return count;
}
