import { statfsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreWriteError } from "../errors.js";

const ENOSPC = 28;
const EIO = 5;
/**
 * LMDB reports a write that ran out of room as EIO when the disk took part of it (a short write),
 * ENOSPC otherwise; with this little left, an EIO is a full disk, not a failing one.
 */
const NEARLY_FULL_BYTES = 64 * 1024 * 1024;
/** lmdb-js settles `commitError` in the same callback that fails the commit; this only guards a miss. */
const CAUSE_WAIT_MS = 100;

/**
 * Resolves as `write` does; a failed LMDB commit rejects with a {@link StoreWriteError} that names
 * the data dir and says whether its disk is full.
 *
 * lmdb-js rejects a failed commit with a generic "Commit failed" whose `commitError` is a second,
 * rejected promise holding the cause: unobserved, it is an unhandled rejection that ends the
 * process. It is observed here, always.
 */
export async function storeWrite<T>(dataDir: string, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    throw await describeWriteFailure(dataDir, error);
  }
}

async function describeWriteFailure(dataDir: string, error: unknown): Promise<StoreWriteError> {
  const cause = await commitCause(error);
  const code = errorCode(cause);
  const freeBytes = measureFreeBytes(dataDir);
  const diskFull = code === ENOSPC || (code === EIO && freeBytes !== undefined && freeBytes < NEARLY_FULL_BYTES);
  const free = freeBytes === undefined ? "free space unknown" : `${freeBytes} bytes free`;
  const detail = `${describe(cause)}${code === undefined ? "" : `, code ${code}`}`;
  const message = diskFull
    ? `data dir ${dataDir}: no space left on its disk (${free}); LMDB cannot commit until space is freed (${detail})`
    : `data dir ${dataDir}: LMDB could not commit a write (${detail}; ${free})`;
  return new StoreWriteError(message, { cause, dataDir, freeBytes, diskFull });
}

async function commitCause(error: unknown): Promise<unknown> {
  const pending = typeof error === "object" && error !== null ? (error as { commitError?: unknown }).commitError : undefined;
  if (!(pending instanceof Promise)) return error;
  const cause: unknown = await Promise.race([
    pending.then(
      () => error,
      (reason: unknown) => reason,
    ),
    sleep(CAUSE_WAIT_MS, error),
  ]);
  return cause;
}

function errorCode(error: unknown): number | undefined {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function measureFreeBytes(dataDir: string): number | undefined {
  try {
    const { bavail, bsize } = statfsSync(dataDir);
    return bavail * bsize;
  } catch {
    return undefined;
  }
}

/** lmdb-js's error for a failed commit: the cause is in its `commitError`. */
function isLmdbCommitFailure(reason: unknown): boolean {
  return reason instanceof Error && "commitError" in reason && /^Commit failed/.test(reason.message);
}

let guards = 0;
function onUnhandledRejection(reason: unknown): void {
  if (isLmdbCommitFailure(reason)) {
    // The write's own caller got the same failure (see `storeWrite`); this copy is the commit
    // promise lmdb-js's event-turn batching makes for each turn and hands to nobody.
    (reason as { commitError: Promise<unknown> }).commitError.catch(() => undefined);
    return;
  }
  // Anything else is not ours: as Node does by default (unless the application listens itself).
  if (process.listenerCount("unhandledRejection") === 1) throw reason;
}

/**
 * Keeps a failed LMDB commit (a full disk) from ending the process: lmdb-js gives the first write
 * of each event turn a commit promise that nobody holds, and its rejection would be unhandled.
 * Turning event-turn batching off avoids that promise but leaves the last batch of a burst
 * uncommitted at times (seen under load), so the orphan rejection is recognised and dropped
 * instead, and nothing else. Returns the release; the listener goes with the last store.
 */
export function guardOrphanCommitFailures(): () => void {
  if (guards++ === 0) process.on("unhandledRejection", onUnhandledRejection);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--guards === 0) process.off("unhandledRejection", onUnhandledRejection);
  };
}
