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

/**
 * A committed send to the inbox of `partition` (the target's). In NATS mode it waits in the outbox
 * for the relay to publish it; in embedded mode the commit writes it into that partition's inbox.
 */
export interface OutboxEntry {
  partition: number;
  envelope: Envelope;
  data: Uint8Array;
}

/**
 * A durable timer of a partition: when the clock reaches `dueMs`, the partition commits its firing.
 * Today a timer is a delayed send (released to its target's inbox when it fires); sleeps and retry
 * backoff come with durable execution.
 */
export interface TimerEntry {
  dueMs: number;
  /** Unique within the partition: the id of the invocation the send starts. */
  id: string;
  send: OutboxEntry;
}

/** Where a timer waits: due time first, so the earliest is the first key of its partition. */
export type TimerKey = [partition: number, dueMs: number, id: string];

/** Inbox rows of embedded mode: per partition, in arrival order. */
export type InboxKey = [partition: number, seq: number];

export interface InboxRow {
  envelope: Envelope;
  data: Uint8Array;
  /** How many times it was delivered before (see `Delivery.deliveries`); absent: never. */
  deliveries?: number;
}

/**
 * One write to an object key's state. Values arrive msgpack-encoded, so that nothing inside the
 * commit can fail half-way on a value that does not encode.
 */
export type StateWrite =
  | { type: "set"; object: string; key: string; name: string; value: Uint8Array }
  | { type: "delete"; object: string; key: string; name: string }
  | { type: "clearAll"; object: string; key: string };

/**
 * Where a live invocation stands, as its partition keeps it (the `invocations` table) from the first
 * commit that makes it durable (queued behind its key, a suspension point, a durable backoff) to the
 * commit that completes it. A new owner, or the next start, resumes every row in `seq` order.
 */
export type InvocationStatus = "queued" | "running" | "suspended" | "backing-off" | "paused";

/**
 * An operator's stop of a live invocation: `cancel` until its handler saw the `CancelledError`
 * (`cancelled` from then on: it is not thrown again), `kill` until its completion commits.
 */
export type StopRequest = "cancel" | "cancelled" | "kill";

export interface InvocationRow {
  /** Where the invocation's message sat in the partition's inbox: lanes are rebuilt in this order. */
  seq: number;
  /** Its id, target and first caller (answered when it completes, also after a restart). */
  envelope: Envelope;
  /** Its input, as it arrived. */
  data: Uint8Array;
  status: InvocationStatus;
  /** Attempts that failed so far: the retry policy's `maxAttempts` counts across restarts. */
  failedAttempts: number;
  /** `backing-off`: when the next attempt runs. */
  nextAttemptAtMs?: number;
  /** `suspended` on a sleep: when it wakes. */
  wakeAtMs?: number;
  /** The last failed attempt's error, as `Name: message`. */
  lastError?: string;
  stop?: StopRequest;
  /**
   * Attempts that ended with their host or partition lost while they ran (a crash, an out-of-memory
   * handler, an event loop blocked past the lease): past the host's `maxLostAttempts` it is paused.
   */
  lostAttempts?: number;
}

/**
 * One entry of an invocation's journal: what one context action did, so that a replay returns what
 * the first run saw. Entries are numbered from 0 in the order the handler made the actions.
 */
export type JournalEntry =
  /** `ctx.run(name, fn)`: its result (msgpack, empty for `undefined`) or terminal failure. */
  | { type: "run"; name: string; outcome: Outcome }
  /** `ctx.get(name)`: the value read (msgpack), or null. */
  | { type: "get"; name: string; value: Uint8Array | null }
  | { type: "state-keys"; names: string[] }
  | { type: "set"; name: string }
  | { type: "clear"; name: string }
  | { type: "clear-all" }
  /** A one-way send (`target` is its label); its message left with the commit that recorded it. */
  | { type: "send"; target: string }
  /**
   * `wokeAt`: how many actions the handler had made when the sleep ended (see `at` below);
   * `cancelled`: it ended by a cancellation, and throws `CancelledError` when replayed.
   */
  | { type: "sleep"; wakeAtMs: number; wokeAt?: number; cancelled?: true }
  | { type: "now"; value: number }
  /**
   * A call awaiting `callee` (an invocation id, random unless the call had an idempotency key: only its
   * complete-entry command is taken): its outcome once that command came.
   */
  | { type: "call"; target: string; callee: string; outcome?: Outcome; at?: number }
  /** An awakeable: its outcome once something that knew its id (holding `nonce`) resolved or rejected it. */
  | { type: "awakeable"; nonce: string; outcome?: Outcome; at?: number }
  /**
   * A workflow promise's `get()`: its outcome once it was resolved. Here and in calls and awakeables,
   * `at` is how many actions the handler had made when it saw the outcome: a replay hands the outcome
   * over only once it has made as many, so that a race between two waits has the same winner again.
   */
  | { type: "promise"; name: string; outcome?: Outcome; at?: number }
  /** A workflow promise's `peek()`: its outcome then, or null. */
  | { type: "promise-peek"; name: string; outcome: Outcome | null }
  /** A workflow promise resolved or rejected here; the write left with the commit that recorded it. */
  | { type: "promise-complete"; name: string };

/** A workflow promise resolved or rejected: kept once (the first resolution wins), in the `promises` table. */
export interface PromiseWrite {
  object: string;
  key: string;
  name: string;
  outcome: Outcome;
}

export type JournalEntryType = JournalEntry["type"];

/**
 * A suspension point of a live invocation (or its acceptance behind a busy key, or a durable
 * backoff): its row, the journal entries made since the last one, and the state writes and sends
 * made meanwhile, committed together.
 */
export interface ProgressRecord {
  kind: "progress";
  partition: number;
  invocationId: string;
  row: InvocationRow;
  journal: Array<[index: number, entry: JournalEntry]>;
  stateWrites: StateWrite[];
  outbox: OutboxEntry[];
  /** Delayed sends, kept in this partition until due. */
  timers?: TimerEntry[];
  promises?: PromiseWrite[];
  position: number;
  /** When it committed (the host's clock) and which handler (`Type.handler`): what the key's history shows. Set when it writes state. */
  atMs?: number;
  handler?: string;
}

/** A complete-entry command: the outcome of a call or an awakeable, written into the waiting invocation's journal. */
export interface EntryRecord {
  kind: "entry";
  partition: number;
  invocationId: string;
  index: number;
  entry: JournalEntry;
  /** The waiting invocation's row, `running` again: it goes on (a loss from here on counts as a lost attempt). */
  row?: InvocationRow;
  /** Always empty: here so that every record has sends to route. */
  outbox: OutboxEntry[];
  position: number;
}

/** Everything one completed invocation changes, committed together. */
export interface InvocationRecord {
  /** Absent in records written before timers existed. */
  kind?: "invocation";
  partition: number;
  invocationId: string;
  completion: CompletionRecord;
  stateWrites: StateWrite[];
  outbox: OutboxEntry[];
  /** Delayed sends, kept in this partition until due. */
  timers?: TimerEntry[];
  /** The invocation has a row (and maybe a journal) in the tables, which this commit removes. */
  endsRow?: true;
  promises?: PromiseWrite[];
  /** Every inbox message at or below this stream sequence has committed. */
  position: number;
  /**
   * When it committed (the host's clock) and which handler (`Type.handler`): what the key's history
   * shows. Set when it writes state; absent in records written before history existed.
   */
  atMs?: number;
  handler?: string;
}

/**
 * A change to a partition's timers alone: delayed sends accepted from outside (`added`), or timers
 * that came due (`fired`), whose sends are released to their targets' inboxes (`outbox`).
 */
export interface TimersRecord {
  kind: "timers";
  partition: number;
  added: TimerEntry[];
  fired: TimerKey[];
  outbox: OutboxEntry[];
  position: number;
}

/** One change to a partition's tables, made by its committer. */
export type CommitRecord = InvocationRecord | ProgressRecord | EntryRecord | TimersRecord;

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
  /** Absent in snapshots written before timers existed. */
  timers?: TimerEntry[];
  /** Live invocations and their journals; absent in snapshots written before durable execution. */
  invocations?: Array<[invocationId: string, row: InvocationRow]>;
  journal?: Array<[invocationId: string, index: number, entry: JournalEntry]>;
  promises?: PromiseWrite[];
  /** Every key's history (see {@link HistoryEntry}) by key, oldest first, each placed by its commit's changelog sequence and record index; absent in snapshots written before history. */
  history?: Array<[object: string, key: string, logSeq: number, index: number, entry: HistoryEntry]>;
}

/** One state entry's change in a commit, as msgpack bytes: absent when it did not exist before / no longer exists after. */
export interface HistoryChange {
  name: string;
  before?: Uint8Array;
  after?: Uint8Array;
}

/**
 * One commit that changed an object key's state: when (the committing host's clock), by which
 * invocation and handler (`Type.handler`), and each entry's value before and after. The before
 * values are read from the store when the commit is applied, so every replica derives the same.
 */
export interface HistoryEntry {
  atMs: number;
  invocationId: string;
  handler: string;
  changes: HistoryChange[];
}
