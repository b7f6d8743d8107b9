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
 * Lets a partition whose last changelog entries do not decode be taken over again: appends a `skip`
 * entry right after them (fenced on the last), so that replays pass over them. `seq` must be the
 * partition's last entry and must not decode; every entry right before it that does not decode
 * either is skipped with it. A real commit is never skipped, and nothing is deleted (see `LogEntry`).
 * Returns the skip entry's sequence and the entries it skips.
 */
export async function skipCorruptEntries(
  jsm: JetStreamManager,
  js: JetStreamClient,
  namespace: string,
  partition: number,
  seq: number,
): Promise<{ seq: number; skipped: number[] }> {
  const stream = logStreamName(namespace);
  const subject = logSubject(namespace, partition);
  const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (last.seq !== seq) throw new Error(`entry ${seq} is not the last entry of partition ${partition} (${last.seq} is): only the last entries can be skipped`);
  if (view(last.data, seq, partition).ok) throw new Error(`entry ${seq} of partition ${partition} is a valid entry; only entries that do not decode can be skipped`);
  const skipped = [seq];
  let resumeAfter = 0;
  // Back along the stream (other partitions' entries are interleaved) to the last entry that decodes.
  for (let s = seq - 1; s > 0; s--) {
    const msg = await jsm.streams.getMessage(stream, { seq: s }).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (msg?.subject !== subject) continue;
    if (view(msg.data, s, partition).ok) {
      resumeAfter = s;
      break;
    }
    skipped.unshift(s);
  }
  const skip: LogEntry = { type: "skip", hostId: "operator", epoch: 0, prev: seq, skipped, resumeAfter };
  const h = headers();
  h.set("Nats-Expected-Last-Subject-Sequence", String(seq));
  return { seq: (await js.publish(subject, encodeLogEntry(skip), { headers: h })).seq, skipped };
}
