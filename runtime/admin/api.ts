/**
 * The admin API's JSON shapes: what the admin endpoint (`/api/…`), the NATS admin subjects, the
 * `cairn` CLI and the web console exchange. One module, so that the server and its readers cannot
 * drift apart.
 */

/** Where a live invocation stands (`paused`: its retries ran out, it holds its key until `resume` or `kill`). */
export type LiveStatus = "queued" | "running" | "suspended" | "backing-off" | "paused";
/** Live statuses, and `failed`/`succeeded`: ended, remembered for the idempotency window. */
export type InvocationStatusName = LiveStatus | "failed" | "succeeded";

export interface TargetView {
  /** Object, workflow or service name. */
  object: string;
  /** Absent for services. */
  key?: string;
  handler: string;
}

export interface InvocationSummary {
  id: string;
  target: TargetView;
  status: InvocationStatusName;
  partition: number;
  /** Attempts that failed so far (take-overs that found it running count). */
  failedAttempts: number;
  lastError?: string;
  nextAttemptAtMs?: number;
  wakeAtMs?: number;
}

export interface JournalEntryView {
  index: number;
  /** The journal entry's type: `run`, `get`, `set`, `call`, `sleep`, `awakeable`, `promise`, … */
  type: string;
  /** The step, state entry or promise name, or the call's target, when the entry has one. */
  name?: string;
  /** `pending` for a wait that has no outcome yet. */
  outcome?: { ok: true; value: unknown } | { ok: false; error: string } | "pending";
  /** A sleep's wake-up time. */
  wakeAtMs?: number;
}

export interface InvocationDetail extends InvocationSummary {
  journal: JournalEntryView[];
  /** What it waits on, in words (`sleep until …`, `call Greeter/a/hi (inv_…)`, `awakeable`, `resume or kill`). */
  waitingOn?: string;
}

export interface StateEntryView {
  name: string;
  /** The decoded value (msgpack → JSON-able). */
  value: unknown;
  bytes: number;
}

export interface StateView {
  object: string;
  key: string;
  partition: number;
  entries: StateEntryView[];
  /** Entries are paged by name order: `offset`/`limit` of the request; `total` is how many there are. */
  total: number;
}

export interface StateChangeView {
  name: string;
  /** Absent: the entry did not exist before / was cleared after. */
  before?: unknown;
  after?: unknown;
}

export interface HistoryEntryView {
  atMs: number;
  invocationId: string;
  handler: string;
  changes: StateChangeView[];
}

export interface TimerView {
  partition: number;
  dueMs: number;
  /** `send`: a delayed send; `sleep`: an invocation's durable sleep; `retry`: its durable backoff. */
  kind: "send" | "sleep" | "retry";
  /** The delayed send's invocation id, or the sleeping/backing-off invocation's. */
  invocationId: string;
  target: TargetView;
}

export interface PartitionView {
  partition: number;
  /** The owning host's id; absent while nobody holds it. */
  owner?: string;
  epoch?: number;
  inboxBacklog: number;
  outboxBacklog: number;
  timers: number;
  /** Live invocations (rows and running). */
  invocations: number;
  /** Changelog entries since its last snapshot (NATS), 0 in embedded mode. */
  changelogLength: number;
}

export interface HandlerView {
  name: string;
  /** `exclusive`, `shared`, `service` (a service handler), `workflow` (a workflow's `run`). */
  kind: "exclusive" | "shared" | "service" | "workflow";
}

export interface ServiceView {
  name: string;
  type: "object" | "service" | "workflow";
  handlers: HandlerView[];
  /** Hosts serving it now. */
  hosts: string[];
}

export interface HealthView {
  status: "ready" | "starting" | "closing";
  hostId: string;
  mode: "embedded" | "nats";
  ownedPartitions: number;
  partitions: number;
}

/** Filters of `GET /api/invocations`. */
export interface InvocationFilter {
  status?: InvocationStatusName;
  object?: string;
  key?: string;
  /** @default 100 */
  limit?: number;
}

/** What `cancel`, `kill` and `resume` answer: the command was durably accepted (it acts asynchronously). */
export interface ControlAnswer {
  invocationId: string;
  accepted: true;
}

/** Invocation control, as the client offers it (`client.cancel/kill/resume`). */
export interface InvocationControl {
  cancel(invocationId: string): Promise<void>;
  kill(invocationId: string): Promise<void>;
  resume(invocationId: string): Promise<void>;
}
