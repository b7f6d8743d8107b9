import { AckPolicy, DeliverPolicy, type JetStreamManager, RetentionPolicy, StorageType, nanos } from "nats";
import { inboxStreamName, inboxSubject, partitionsFromDescription, streamDescription } from "../../../sdk/internal.js";
import { ConfigError } from "../../errors.js";
import { isNotFound } from "./jetstream-errors.js";

const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;


/**
 * Creates the inbox stream, or checks that an existing one has the same partition count:
 * a different count would send a key's messages to two partitions.
 */
export async function ensureInboxStream(jsm: JetStreamManager, namespace: string, partitions: number, replicas = 1): Promise<string> {
  const name = inboxStreamName(namespace);
  try {
    const info = await jsm.streams.info(name);
    const existing = partitionsFromDescription(info.config.description);
    if (existing !== partitions) {
      throw new ConfigError(
        `stream ${name} was created with ${existing ?? "an unknown number of"} partitions, but this host is configured with ${partitions}; ` +
          `partitions are fixed when the stream is created`,
      );
    }
    return name;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await jsm.streams.add({
    name,
    subjects: [`${namespace}.in.>`],
    description: streamDescription(partitions),
    // A work queue forgets a message once its partition acked it: the inbox holds only pending work.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  });
  return name;
}

interface ConsumerOptions {
  ackWaitMs: number;
  maxAckPending: number;
}

/**
 * The messages an earlier owner's consumers had delivered and not seen acked when a new owner took
 * the partition: those above `ackFloor`, up to `delivered`, that come again were in flight there.
 */
export interface InFlightBefore {
  ackFloor: number;
  delivered: number;
}

/**
 * The inbox consumer of one partition for one lease epoch, `p<partition>-e<epoch>`: each epoch
 * consumes through its own, so a former owner's pulls find nothing.
 */
export class PartitionConsumer {
  readonly name: string;

  constructor(
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly namespace: string,
    private readonly partition: number,
    epoch: number,
    private readonly options: ConsumerOptions,
  ) {
    this.name = `p${partition}-e${epoch}`;
  }

  private config() {
    return {
      durable_name: this.name,
      filter_subject: inboxSubject(this.namespace, this.partition),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs),
      max_ack_pending: this.options.maxAckPending,
      max_deliver: -1,
    };
  }

  /** Creates it if it does not exist (an operator deleted it, say), keeping what it has not delivered. */
  async ensure(): Promise<void> {
    try {
      await this.jsm.consumers.info(this.stream, this.name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.consumers.add(this.stream, this.config());
    }
  }

  /**
   * Deletes every consumer of the partition (earlier owners', this host's from an earlier epoch) and
   * creates this one: every message not yet acked is delivered again at once, in stream order,
   * instead of after the old consumer's ack wait. A work-queue stream allows one consumer per subject.
   */
  async reset(): Promise<InFlightBefore> {
    const subject = inboxSubject(this.namespace, this.partition);
    const before: InFlightBefore = { ackFloor: Number.POSITIVE_INFINITY, delivered: 0 };
    for await (const info of this.jsm.consumers.list(this.stream)) {
      if (info.config.filter_subject !== subject) continue;
      // What the earlier consumer had handed out and not seen acked: in flight with its owner.
      before.ackFloor = Math.min(before.ackFloor, info.ack_floor.stream_seq);
      before.delivered = Math.max(before.delivered, info.delivered.stream_seq);
      await this.deleteNamed(info.name);
    }
    await this.jsm.consumers.add(this.stream, this.config());
    return before;
  }

  async delete(): Promise<void> {
    await this.deleteNamed(this.name);
  }

  private async deleteNamed(name: string): Promise<void> {
    try {
      await this.jsm.consumers.delete(this.stream, name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
