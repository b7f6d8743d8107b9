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

/** Everything one completed invocation changes, committed in one transaction. */
export interface CommitRecord {
  partition: number;
  invocationId: string;
  completion: CompletionRecord;
  stateWrites: StateWrite[];
  outbox: OutboxEntry[];
  /** Every inbox message at or below this stream sequence has committed. */
  position: number;
}
