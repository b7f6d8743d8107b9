import { namespaceToken } from "../../sdk/internal.js";
import { isNotFound, isWrongLastSequence } from "../transport/index.js";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType, headers } from "nats";

/** The append was refused: another writer appended since this one last did. It must stop. */
export class FencedError extends Error {
  override name = "FencedError";
}

export function logStreamName(namespace: string): string {
  return `${namespaceToken(namespace).toUpperCase()}_LOG`;
}

export function logSubject(namespace: string, partition: number): string {
  return `${namespace}.log.${partition}`;
}

/** Creates the changelog stream if it does not exist: one subject per partition, kept until trimmed by snapshots. */
export async function ensureLogStream(jsm: JetStreamManager, namespace: string): Promise<string> {
  const name = logStreamName(namespace);
  try {
    await jsm.streams.info(name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add({ name, subjects: [`${namespace}.log.>`], retention: RetentionPolicy.Limits, storage: StorageType.File });
  }
  return name;
}

/**
 * One partition's changelog, as one writer sees it. Every append names the sequence of the
 * partition's last record it knows (`Nats-Expected-Last-Subject-Sequence`): if anyone else
 * appended since, JetStream refuses it and the writer learns it is no longer the owner. This is
 * the fence that makes a paused or partitioned former owner harmless.
 *
 * Part of the scale-out work (issue 3); not used by `startHost` yet.
 */
export class PartitionLog {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    readonly subject: string,
    private lastSeq: number,
  ) {}

  /** Opens the log at its current end: the next append succeeds only if nobody appends first. */
  static async open(jsm: JetStreamManager, js: JetStreamClient, namespace: string, partition: number): Promise<PartitionLog> {
    const stream = await ensureLogStream(jsm, namespace);
    const subject = logSubject(namespace, partition);
    let lastSeq = 0;
    try {
      lastSeq = (await jsm.streams.getMessage(stream, { last_by_subj: subject })).seq;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return new PartitionLog(js, stream, subject, lastSeq);
  }

  /** The stream sequence of the last record this writer knows of (0: none). */
  get position(): number {
    return this.lastSeq;
  }

  /** Appends one record; throws `FencedError` when another writer appended since. */
  async append(record: Uint8Array): Promise<number> {
    try {
      // Set by hand: the client's `expect` option skips a 0, and "no record yet" must be fenced too.
      const h = headers();
      h.set("Nats-Expected-Last-Subject-Sequence", String(this.lastSeq));
      const ack = await this.js.publish(this.subject, record, { headers: h });
      this.lastSeq = ack.seq;
      return ack.seq;
    } catch (error) {
      if (isWrongLastSequence(error)) throw new FencedError(`${this.subject}: another writer appended after sequence ${this.lastSeq}`, { cause: error });
      throw error;
    }
  }

  /** The records after `afterSeq`, up to the end known when the read starts, oldest first. */
  async *read(afterSeq = 0): AsyncGenerator<{ seq: number; data: Uint8Array }> {
    const end = this.lastSeq;
    if (end <= afterSeq) return;
    const consumer = await this.js.consumers.get(this.stream, {
      filterSubjects: this.subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
    });
    const messages = await consumer.consume();
    try {
      for await (const msg of messages) {
        yield { seq: msg.seq, data: msg.data };
        if (msg.seq >= end) break;
      }
    } finally {
      await messages.close();
    }
  }
}
