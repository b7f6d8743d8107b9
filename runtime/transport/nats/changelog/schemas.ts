import { z } from "zod";
import { decode } from "../../../../sdk/internal.js";
import type { CommitRecord, OutboxEntry as OutboxEntryRecord, PartitionSnapshot } from "../../../store/index.js";

// What a changelog entry or a snapshot must look like once decoded. Both are written by hosts only,
// but they come off the network: a corrupt or foreign one must be recognised as such, not applied.
// Callers keep the decoded value itself once it passes, so fields a later version adds are kept.

const Bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "must be bytes");

const Target = z.discriminatedUnion("type", [
  z.object({ type: z.literal("object"), name: z.string(), key: z.string(), handler: z.string() }),
  z.object({ type: z.literal("service"), name: z.string(), handler: z.string() }),
]);

const Outcome = z.union([
  z.object({ ok: z.literal(true), value: Bytes }),
  z.object({ ok: z.literal(false), error: z.object({ name: z.string(), message: z.string(), code: z.number() }) }),
]);

const Completion = z.object({ outcome: Outcome, target: z.string().optional(), expiresAtMs: z.number() });

const ReplyAddress = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("nats"), subject: z.string(), callId: z.string() }),
  z.object({ kind: z.literal("local"), callId: z.string() }),
]);

const InvocationIdSchema = z.string().regex(/^inv_[0-9a-hjkmnp-tv-z]{26}$/, "must be an invocation id");

export const CallerSchema = z.object({ partition: z.number().int().nonnegative(), invocationId: InvocationIdSchema, target: Target, index: z.number().int().nonnegative() });
export const ChainSchema = z.array(z.string()).max(1000);
export const CompletesSchema = z.object({ index: z.number().int().nonnegative(), from: z.string().regex(/^[0-9a-z_]{1,64}$/).optional() });

const Envelope = z.object({
  invocationId: z.string(),
  target: Target,
  replyTo: ReplyAddress.optional(),
  delayMs: z.number().optional(),
  caller: CallerSchema.optional(),
  chain: ChainSchema.optional(),
  completes: CompletesSchema.optional(),
  control: z.enum(["cancel", "kill", "resume"]).optional(),
});

// Before timers, an outbox entry named the target's NATS subject (`<namespace>.in.<partition>`);
// `upgradeOutboxEntry` turns such an entry into today's, which names the partition.
const OutboxEntry = z.union([
  z.object({ partition: z.number().int().nonnegative(), envelope: Envelope, data: Bytes }),
  z.object({ subject: z.string().regex(/\.in\.\d+$/), envelope: Envelope, data: Bytes }),
]);

const Timer = z.object({ dueMs: z.number(), id: z.string(), send: OutboxEntry });

const StateWrite = z.discriminatedUnion("type", [
  z.object({ type: z.literal("set"), object: z.string(), key: z.string(), name: z.string(), value: Bytes }),
  z.object({ type: z.literal("delete"), object: z.string(), key: z.string(), name: z.string() }),
  z.object({ type: z.literal("clearAll"), object: z.string(), key: z.string() }),
]);

const PromiseWrite = z.object({ object: z.string(), key: z.string(), name: z.string(), outcome: Outcome });

// A commit that writes state says when (the committing host's clock) and which handler: its key's history.
const CommittedAt = { atMs: z.number().int().nonnegative().optional(), handler: z.string().optional() };

const HistoryEntry = z.object({
  atMs: z.number().int().nonnegative(),
  invocationId: z.string(),
  handler: z.string(),
  changes: z.array(z.object({ name: z.string(), before: Bytes.optional(), after: Bytes.optional() })),
});

const InvocationRecord = z.object({
  kind: z.literal("invocation").optional(),
  partition: z.number().int(),
  invocationId: z.string(),
  completion: Completion,
  stateWrites: z.array(StateWrite),
  outbox: z.array(OutboxEntry),
  timers: z.array(Timer).optional(),
  endsRow: z.literal(true).optional(),
  promises: z.array(PromiseWrite).optional(),
  position: z.number(),
  ...CommittedAt,
});

const InvocationRow = z.object({
  seq: z.number(),
  envelope: Envelope,
  data: Bytes,
  status: z.enum(["queued", "running", "suspended", "backing-off", "paused"]),
  failedAttempts: z.number().int().nonnegative(),
  nextAttemptAtMs: z.number().optional(),
  wakeAtMs: z.number().optional(),
  lastError: z.string().optional(),
  stop: z.enum(["cancel", "cancelled", "kill"]).optional(),
  lostAttempts: z.number().int().nonnegative().optional(),
});

const JournalEntry = z.discriminatedUnion("type", [
  z.object({ type: z.literal("run"), name: z.string(), outcome: Outcome }),
  z.object({ type: z.literal("get"), name: z.string(), value: Bytes.nullable() }),
  z.object({ type: z.literal("state-keys"), names: z.array(z.string()) }),
  z.object({ type: z.literal("set"), name: z.string() }),
  z.object({ type: z.literal("clear"), name: z.string() }),
  z.object({ type: z.literal("clear-all") }),
  z.object({ type: z.literal("send"), target: z.string() }),
  z.object({ type: z.literal("sleep"), wakeAtMs: z.number(), wokeAt: z.number().int().nonnegative().optional(), cancelled: z.literal(true).optional() }),
  z.object({ type: z.literal("now"), value: z.number() }),
  z.object({ type: z.literal("call"), target: z.string(), callee: z.string(), outcome: Outcome.optional(), at: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal("awakeable"), nonce: z.string(), outcome: Outcome.optional(), at: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal("promise"), name: z.string(), outcome: Outcome.optional(), at: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal("promise-peek"), name: z.string(), outcome: Outcome.nullable() }),
  z.object({ type: z.literal("promise-complete"), name: z.string() }),
]);


const EntryRecord = z.object({
  kind: z.literal("entry"),
  partition: z.number().int(),
  invocationId: z.string(),
  index: z.number().int().nonnegative(),
  entry: JournalEntry,
  row: InvocationRow.optional(),
  outbox: z.array(OutboxEntry),
  position: z.number(),
});

const ProgressRecord = z.object({
  kind: z.literal("progress"),
  partition: z.number().int(),
  invocationId: z.string(),
  row: InvocationRow,
  journal: z.array(z.tuple([z.number().int().nonnegative(), JournalEntry])),
  stateWrites: z.array(StateWrite),
  outbox: z.array(OutboxEntry),
  timers: z.array(Timer).optional(),
  promises: z.array(PromiseWrite).optional(),
  position: z.number(),
  ...CommittedAt,
});

const TimersRecord = z.object({
  kind: z.literal("timers"),
  partition: z.number().int(),
  added: z.array(Timer),
  fired: z.array(z.tuple([z.number().int(), z.number(), z.string()])),
  outbox: z.array(OutboxEntry),
  position: z.number(),
});

const Record = z.union([InvocationRecord, ProgressRecord, EntryRecord, TimersRecord]);

export const LogEntrySchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("commit"), hostId: z.string(), epoch: z.number(), prev: z.number(), records: z.array(Record) }),
  z.object({ type: z.literal("epoch"), hostId: z.string(), epoch: z.number(), prev: z.number() }),
  z.object({ type: z.literal("skip"), hostId: z.string(), epoch: z.number(), prev: z.number(), skipped: z.array(z.number()).min(1), resumeAfter: z.number() }),
]);

export const SnapshotSchema = z.object({
  partition: z.number().int(),
  logSeq: z.number().int().nonnegative(),
  position: z.number(),
  state: z.array(z.tuple([z.string(), z.string(), z.string(), Bytes])),
  completions: z.array(z.tuple([z.string(), Completion])),
  outbox: z.array(z.tuple([z.number(), z.number(), OutboxEntry])),
  timers: z.array(Timer).optional(),
  invocations: z.array(z.tuple([z.string(), InvocationRow])).optional(),
  journal: z.array(z.tuple([z.string(), z.number().int().nonnegative(), JournalEntry])).optional(),
  promises: z.array(PromiseWrite).optional(),
  history: z.array(z.tuple([z.string(), z.string(), z.number().int().nonnegative(), z.number().int().nonnegative(), HistoryEntry])).optional(),
});

// The schemas must accept every record the runtime writes: checked here by the compiler.
type Accepts<Wide, Narrow extends Wide> = Narrow;
export type _RecordFits = Accepts<z.input<typeof Record>, CommitRecord>;
export type _SnapshotFits = Accepts<z.input<typeof SnapshotSchema>, PartitionSnapshot>;

/** An outbox entry as written today: one that names a NATS subject (an older version's) names its partition instead. */
export function upgradeOutboxEntry(entry: z.input<typeof OutboxEntry>): OutboxEntryRecord {
  if ("partition" in entry) return entry as OutboxEntryRecord;
  const { subject, ...rest } = entry;
  return { ...rest, partition: Number(subject.slice(subject.lastIndexOf(".") + 1)) } as OutboxEntryRecord;
}

/** A decoded record or snapshot in today's shape (see {@link upgradeOutboxEntry}). */
export function upgradeRecord(record: CommitRecord): CommitRecord {
  const outbox = record.outbox.map(upgradeOutboxEntry);
  if (record.kind === "timers") return { ...record, outbox, added: record.added.map((t) => ({ ...t, send: upgradeOutboxEntry(t.send) })) };
  if (record.kind === "progress" || record.kind === "entry") return record; // written after outbox entries named partitions
  return { ...record, outbox, timers: record.timers?.map((t) => ({ ...t, send: upgradeOutboxEntry(t.send) })) };
}

export function upgradeSnapshot(snapshot: PartitionSnapshot): PartitionSnapshot {
  return {
    ...snapshot,
    outbox: snapshot.outbox.map(([logSeq, index, entry]) => [logSeq, index, upgradeOutboxEntry(entry)]),
    timers: snapshot.timers?.map((t) => ({ ...t, send: upgradeOutboxEntry(t.send) })),
  };
}

/** The first problem a schema found, as `path: message`. */
function firstIssue(error: z.ZodError): string {
  const [issue] = error.issues;
  return issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
}

/**
 * Decodes bytes a host wrote and checks their shape, or throws what `corrupt` makes of the problem.
 * Returns the decoded value itself, not the parse's copy, so that fields the schema does not know
 * (written by a later version) are kept.
 */
export function decodeChecked<S extends z.ZodType>(bytes: Uint8Array, schema: S, corrupt: (problem: string, cause?: unknown) => Error): z.input<S> {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    throw corrupt(`it does not decode: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw corrupt(firstIssue(parsed.error));
  return value as z.input<S>;
}
