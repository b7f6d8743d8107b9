import type { Envelope } from "../../sdk/internal.js";
import type { JournalEntry } from "../store/index.js";

/** How an invocation's run ended, as metrics count it. */
export type RunOutcome = "succeeded" | "failed";

/**
 * What a partition tells whoever measures it (the admin endpoint's metrics): the processor calls
 * these at fixed points and never learns what listens, so it imports no metrics library. Every
 * duration is in milliseconds. Calls must be cheap and must not throw.
 */
export interface PartitionObserver {
  /** A message reached the processor `ms` after its inbox accepted it. */
  inboxWait(ms: number): void;
  /** An invocation started on its lane `ms` after it was scheduled there. */
  keyQueueWait(envelope: Envelope, ms: number): void;
  /** One run of the handler (to its end, a suspension or a failure) took `ms`. */
  handlerRun(envelope: Envelope, ms: number): void;
  /** A commit (journal, changelog or LMDB write) took `ms` to be durable. */
  commitDone(ms: number): void;
  /** After its completion committed, its sends were released and its callers answered in `ms`. */
  published(ms: number): void;
  /**
   * An invocation completed: `endToEndMs` from its delivery to this partition (or its resumption
   * here) to its committed completion; `journal` is set for one that had a journal.
   */
  completed(envelope: Envelope, outcome: RunOutcome, endToEndMs: number, journal: ReadonlyMap<number, JournalEntry> | undefined): void;
}

/** An observer that listens to nothing: the default, and what tests without metrics get. */
export const NO_OBSERVER: PartitionObserver = {
  inboxWait: () => undefined,
  keyQueueWait: () => undefined,
  handlerRun: () => undefined,
  commitDone: () => undefined,
  published: () => undefined,
  completed: () => undefined,
};

/** A live invocation as the processor holds it in memory: what the admin endpoint shows of one that has no row. */
export interface LiveInvocationView {
  invocationId: string;
  envelope: Envelope;
  failedAttempts: number;
  /** A row in the partition's tables holds it (its status is the row's). */
  hasRow: boolean;
  journal: ReadonlyMap<number, JournalEntry>;
}
