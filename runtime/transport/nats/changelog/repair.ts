import { type JetStreamClient, type JetStreamManager, headers } from "nats";
import { CorruptPartitionDataError } from "../../../errors.js";
import { isNotFound } from "../jetstream-errors.js";
import { type LogEntry, decodeLogEntry, encodeLogEntry } from "./log-entry.js";
import { logStreamName, logSubject } from "./partition-log.js";

/** One changelog entry as an operator sees it: what it is, or why it is not one. */
export type EntryView =
  | { seq: number; ok: true; type: LogEntry["type"]; hostId: string; epoch: number; prev: number; records: number }
  | { seq: number; ok: false; problem: string };

/**
 * The messages of one partition's changelog, newest first, from its last one back. Entries of other
 * partitions are interleaved in the stream, so the walk goes through the stream one sequence at a
 * time: an operator's tool, not a hot path.
 */
async function* backwards(jsm: JetStreamManager, namespace: string, partition: number): AsyncGenerator<{ seq: number; data: Uint8Array }> {
  const stream = logStreamName(namespace);
  const subject = logSubject(namespace, partition);
  let seq: number;
  try {
    seq = (await jsm.streams.getMessage(stream, { last_by_subj: subject })).seq;
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  for (; seq > 0; seq--) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (msg?.subject === subject) yield { seq: msg.seq, data: msg.data };
  }
}

/** The last `count` entries of a partition's changelog, oldest first, each decoded or with its problem. */
export async function inspectChangelog(jsm: JetStreamManager, namespace: string, partition: number, count = 10): Promise<EntryView[]> {
  const views: EntryView[] = [];
  for await (const { seq, data } of backwards(jsm, namespace, partition)) {
    if (views.length >= count) break;
    views.unshift(view(data, seq, partition));
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
  const skipped: number[] = [];
  let resumeAfter = 0;
  // From the last entry back to the last one that decodes.
  for await (const entry of backwards(jsm, namespace, partition)) {
    if (skipped.length === 0 && entry.seq !== seq) {
      throw new Error(`entry ${seq} is not the last entry of partition ${partition} (${entry.seq} is): only the last entries can be skipped`);
    }
    if (view(entry.data, entry.seq, partition).ok) {
      if (skipped.length === 0) throw new Error(`entry ${seq} of partition ${partition} is a valid entry; only entries that do not decode can be skipped`);
      resumeAfter = entry.seq;
      break;
    }
    skipped.unshift(entry.seq);
  }
  if (skipped.length === 0) throw new Error(`partition ${partition} has no changelog entries`);
  const subject = logSubject(namespace, partition);
  const skip: LogEntry = { type: "skip", hostId: "operator", epoch: 0, prev: seq, skipped, resumeAfter };
  const h = headers();
  h.set("Nats-Expected-Last-Subject-Sequence", String(seq));
  return { seq: (await js.publish(subject, encodeLogEntry(skip), { headers: h })).seq, skipped };
}
