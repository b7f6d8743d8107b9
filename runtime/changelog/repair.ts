import { type JetStreamClient, type JetStreamManager, headers } from "nats";
import { CorruptPartitionDataError } from "../errors.js";
import { isNotFound } from "../transport/index.js";
import { type LogEntry, decodeLogEntry, encodeLogEntry } from "./log-entry.js";
import { logStreamName, logSubject } from "./partition-log.js";

/** One changelog entry as an operator sees it: what it is, or why it is not one. */
export type EntryView =
  | { seq: number; ok: true; type: LogEntry["type"]; hostId: string; epoch: number; prev: number; records: number }
  | { seq: number; ok: false; problem: string };

/** The last `count` entries of a partition's changelog, oldest first, each decoded or with its problem. */
export async function inspectChangelog(jsm: JetStreamManager, namespace: string, partition: number, count = 10): Promise<EntryView[]> {
  const stream = logStreamName(namespace);
  const subject = logSubject(namespace, partition);
  const views: EntryView[] = [];
  let seq: number | undefined;
  try {
    seq = (await jsm.streams.getMessage(stream, { last_by_subj: subject })).seq;
  } catch (error) {
    if (isNotFound(error)) return views;
    throw error;
  }
  // Walk back along the stream: entries of other partitions are interleaved with this one's.
  while (seq !== undefined && seq > 0 && views.length < count) {
    let msg;
    try {
      msg = await jsm.streams.getMessage(stream, { seq });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      seq--;
      continue;
    }
    if (msg.subject === subject) views.unshift(view(msg.data, msg.seq, partition));
    seq--;
  }
  return views;
}

function view(data: Uint8Array, seq: number, partition: number): EntryView {
  try {
    const entry = decodeLogEntry(data, seq, partition);
    return { seq, ok: true, type: entry.type, hostId: entry.hostId, epoch: entry.epoch, prev: entry.prev, records: entry.type === "commit" ? entry.records.length : 0 };
  } catch (error) {
    if (!(error instanceof CorruptPartitionDataError)) throw error;
    return { seq, ok: false, problem: error.message };
  }
}

/**
 * Lets a partition whose last changelog entry does not decode be taken over again: appends a `skip`
 * entry right after it (fenced on it), so that replays pass over it. Only the last entry of the
 * partition may be skipped, and only one that does not decode: a real commit is never skipped.
 * Nothing is deleted (see `LogEntry`).
 */
export async function skipCorruptEntry(jsm: JetStreamManager, js: JetStreamClient, namespace: string, partition: number, seq: number): Promise<number> {
  const stream = logStreamName(namespace);
  const subject = logSubject(namespace, partition);
  const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (last.seq !== seq) throw new Error(`entry ${seq} is not the last entry of partition ${partition} (${last.seq} is): only the last one can be skipped`);
  const entry = view(last.data, seq, partition);
  if (entry.ok) throw new Error(`entry ${seq} of partition ${partition} is a valid ${entry.type} entry; only an entry that does not decode can be skipped`);
  let resumeAfter = 0;
  for (let s = seq - 1; s > 0; s--) {
    const msg = await jsm.streams.getMessage(stream, { seq: s }).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (msg?.subject === subject) {
      resumeAfter = s;
      break;
    }
  }
  const skip: LogEntry = { type: "skip", hostId: "operator", epoch: 0, prev: seq, skipped: seq, resumeAfter };
  const h = headers();
  h.set("Nats-Expected-Last-Subject-Sequence", String(seq));
  return (await js.publish(subject, encodeLogEntry(skip), { headers: h })).seq;
}
