import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { StoreWriteError, HostClosedError } from "../errors.js";
import { backoffMs } from "../invoke/index.js";
import { INTERNAL_RETRY } from "../timing.js";
import type { CommitRecord, OutboxKey, Store } from "../store/index.js";

/** A partition whose LMDB writes keep failing (a full disk) says so this often, not at every retry. */
const FAILURE_LOG_EVERY_MS = 30_000;

/**
 * Applies one entry of a partition's records to LMDB, retrying in place until it is written: the
 * partition keeps its lanes meanwhile, so nothing after this entry commits before it. Given up, with
 * a `HostClosedError`, only when `signal` aborts (the partition stops). A full disk is logged as such,
 * with the data dir and the bytes left, at most every 30 s.
 */
export async function applyUntilWritten(
  store: Store,
  partition: number,
  logSeq: number,
  records: readonly CommitRecord[],
  options: { signal: AbortSignal; logger: Logger },
): Promise<OutboxKey[][]> {
  const { signal, logger } = options;
  let loggedAt = Number.NEGATIVE_INFINITY;
  for (let attempt = 1; ; attempt++) {
    try {
      const keys = await store.applyLogged(partition, logSeq, records);
      if (attempt > 1) logger.warn({ logSeq, attempts: attempt }, "commit written to LMDB after failures; the partition serves again");
      return keys;
    } catch (error) {
      const retryInMs = backoffMs(INTERNAL_RETRY, attempt);
      if (performance.now() - loggedAt >= FAILURE_LOG_EVERY_MS) {
        loggedAt = performance.now();
        const data = { err: error, logSeq, attempt, retryInMs };
        if (error instanceof StoreWriteError && error.diskFull) {
          logger.error({ ...data, dataDir: error.dataDir, freeBytes: error.freeBytes }, "disk full: LMDB cannot write a commit; the partition waits, retrying, until space is freed in its data dir");
        } else {
          logger.error(data, "writing a commit to LMDB failed; retrying");
        }
      }
      await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw new HostClosedError(`partition ${partition} stopped before its commit was written`);
    }
  }
}
