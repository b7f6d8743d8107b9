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

const Envelope = z.object({ invocationId: z.string(), target: Target, replyTo: ReplyAddress.optional(), delayMs: z.number().optional() });

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

const InvocationRecord = z.object({
  kind: z.literal("invocation").optional(),
  partition: z.number().int(),
  invocationId: z.string(),
  completion: Completion,
  stateWrites: z.array(StateWrite),
  outbox: z.array(OutboxEntry),
  timers: z.array(Timer).optional(),
  position: z.number(),
});

const TimersRecord = z.object({
  kind: z.literal("timers"),
  partition: z.number().int(),
  added: z.array(Timer),
  fired: z.array(z.tuple([z.number().int(), z.number(), z.string()])),
  outbox: z.array(OutboxEntry),
  position: z.number(),
});

const Record = z.union([InvocationRecord, TimersRecord]);

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
