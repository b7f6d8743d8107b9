import type { Envelope } from "../../sdk/internal.js";

/**
 * How an invocation ended, as recorded for deduplication and re-sent to late callers. A result
 * travels msgpack-encoded, as the handler's commit wrote it: it is never encoded twice.
 */
export type Outcome =
  | { ok: true; value: Uint8Array }
  | { ok: false; error: { name: string; message: string; code: number } };

export interface CompletionRecord {
  outcome: Outcome;
  /**
   * The target it ran (`targetLabel`): a later message with the same invocation id is answered from
   * this record only if it names the same target. Absent in records written before it was added.
   */
  target?: string;
  /** When the record may be forgotten: the end of the idempotency window. */
  expiresAtMs: number;
}

/** A committed send, waiting for the relay to publish it. */
export interface OutboxEntry {
  subject: string;
  envelope: Envelope;
  data: Uint8Array;
}

/**
 * One write to an object key's state. Values arrive msgpack-encoded, so that nothing inside the
 * commit can fail half-way on a value that does not encode.
 */
export type StateWrite =
  | { type: "set"; object: string; key: string; name: string; value: Uint8Array }
  | { type: "delete"; object: string; key: string; name: string }
  | { type: "clearAll"; object: string; key: string };

/** Everything one completed invocation changes, committed together. */
export interface CommitRecord {
  partition: number;
  invocationId: string;
  completion: CompletionRecord;
  stateWrites: StateWrite[];
  outbox: OutboxEntry[];
  /** Every inbox message at or below this stream sequence has committed. */
  position: number;
}

/** Where a committed send waits: its changelog entry's sequence and its index among that entry's sends. */
export type OutboxKey = [partition: number, logSeq: number, index: number];

/**
 * Everything LMDB holds for one partition as of changelog sequence `logSeq`: what a snapshot stores
 * and what a host with an empty data dir starts from.
 */
export interface PartitionSnapshot {
  partition: number;
  logSeq: number;
  position: number;
  state: Array<[object: string, key: string, name: string, value: Uint8Array]>;
  completions: Array<[invocationId: string, record: CompletionRecord]>;
  outbox: Array<[logSeq: number, index: number, entry: OutboxEntry]>;
}
