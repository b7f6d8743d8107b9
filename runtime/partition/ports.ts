import type { Envelope, ReplyAddress, Reply } from "../../sdk/internal.js";
import type { CommitRecord, OutboxKey } from "../store/index.js";

// The ports of a partition: what the transport-free processor (processor.ts) needs from the world,
// each with a NATS implementation (runtime/transport/nats/) and an embedded one (runtime/transport/local/).
// See "Ports" in docs/architecture.md.

/** An inbox message's metadata, or why it cannot be run (with whom to tell, when known). */
export type ParsedEnvelope =
  | { ok: true; envelope: Envelope }
  | { ok: false; problem: string; label: string; replyTo: ReplyAddress | undefined };

/**
 * One message from a partition's inbox, as its inbox source delivers it. The processor settles or
 * abandons every delivery exactly once, and nothing else does.
 */
export interface Delivery {
  readonly parsed: ParsedEnvelope;
  readonly data: Uint8Array;
  /** Its place in the partition's inbox (a stream sequence, an inbox row's): only grows, across restarts too. */
  readonly seq: number;
  /** When its inbox accepted it (epoch ms), when the transport knows: what the inbox-wait metric measures. */
  readonly receivedAtMs?: number;
  /** Handled, its effects committed: the inbox must never deliver it again. */
  settle(): void;
  /** Not handled (the partition is stopping): left in the inbox for the partition's next owner. */
  abandon(): void;
  /** Resolves once the settle has reached the transport (crash tests make it reach it before dying). */
  flush(): Promise<void>;
  /**
   * Set when the message is delivered before its inbox write is durable (embedded mode hands a
   * client's call to the partition while that write is being synced): nothing is committed for it
   * before this resolves, and it is abandoned if this rejects (the write failed: the caller was told).
   */
  readonly accepted?: Promise<void>;
}

const WRITTEN = Promise.resolve(true);

/**
 * Whether a delivery's inbox write is durable (it always is but in embedded mode's early hand-over,
 * see `Delivery.accepted`): nothing is committed for it before.
 */
export function inboxWriteHeld(delivery: Delivery | undefined): Promise<boolean> {
  if (!delivery?.accepted) return WRITTEN;
  return delivery.accepted.then(
    () => true,
    () => false,
  );
}

/** What was committed: the record (as committed: a record too large for the log becomes its failure), and where its sends wait. */
export interface Committed {
  record: CommitRecord;
  /** NATS mode: the outbox keys of the record's sends. Embedded mode: none (sends went into the inboxes). */
  outboxKeys: OutboxKey[];
}

/**
 * The partition's commit path: one record after another, grouped, each durable when its promise
 * resolves. Rejects with `FencedError` or `HostClosedError` when the partition is no longer this
 * worker's to write.
 */
export interface CommitLog {
  commit(record: CommitRecord): Promise<Committed>;
  /** Resolves when nothing is being committed. */
  idle(): Promise<void>;
}

/** Sends committed by the partition, released once their commit is durable. */
export interface Router {
  release(partition: number, committed: Committed): void;
}

/** Answers a request-response caller. Best effort: a lost answer is re-sent when the caller retries. */
export interface Replier {
  reply(to: ReplyAddress, reply: Reply): void;
}

/** Which inbox position every message at or below has been settled: recorded with each commit. */
export interface Checkpoint {
  checkpoint(): number;
}

/** Serves one partition for one ownership epoch; the host starts and stops one per partition it owns. */
export interface PartitionWorker {
  readonly partition: number;
  readonly epoch: number;
  /** Takes the partition over and starts serving it. A `stop()` meanwhile makes it fail, leaving nothing running. */
  start(): Promise<void>;
  /** Stops taking messages and lets running ones finish within `graceMs` (0: at once); the rest are left for the next owner. */
  stop(graceMs: number): Promise<void>;
  /** Resolves when nothing of the partition is being processed but invocations waiting on the clock. */
  idle(): Promise<void>;
  /** Whether anything of the partition is queued, running or being committed now (waiting on the clock aside). */
  busy(): boolean;
}
