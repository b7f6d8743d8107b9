import type { Envelope } from "../../sdk/internal.js";

/** How an invocation ended, as recorded for deduplication and re-sent to late callers. */
export type Outcome =
  | { ok: true; value: unknown }
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

/** One write to an object key's state; `value: undefined` deletes the entry. */
export type StateWrite =
  | { type: "set"; object: string; key: string; name: string; value: unknown }
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
