import { AckPolicy, DeliverPolicy, type JetStreamManager, RetentionPolicy, StorageType, nanos } from "nats";
import { inboxStreamName, inboxSubject, partitionsFromDescription, streamDescription } from "../../sdk/internal.js";
import { ConfigError } from "../errors.js";
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

/** Each lease epoch consumes through its own consumer: a former owner's pulls find nothing. */
const consumerName = (partition: number, epoch: number) => `p${partition}-e${epoch}`;

function consumerConfig(namespace: string, partition: number, epoch: number, options: ConsumerOptions) {
  return {
    durable_name: consumerName(partition, epoch),
    filter_subject: inboxSubject(namespace, partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    max_deliver: -1,
  };
}

interface ConsumerOptions {
  ackWaitMs: number;
  maxAckPending: number;
}

/** Creates this epoch's consumer of the partition if it does not exist (an operator deleted it, say). */
export async function ensurePartitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  namespace: string,
  partition: number,
  epoch: number,
  options: ConsumerOptions,
): Promise<void> {
  try {
    await jsm.consumers.info(stream, consumerName(partition, epoch));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, consumerConfig(namespace, partition, epoch, options));
  }
}

/**
 * Deletes every consumer of the partition (earlier owners', this host's from an earlier epoch) and
 * creates this epoch's: every message not yet acked is delivered again at once, in stream order,
 * instead of after the old consumer's ack wait. A work-queue stream allows one consumer per subject.
 */
export async function resetPartitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  namespace: string,
  partition: number,
  epoch: number,
  options: ConsumerOptions,
): Promise<string> {
  const subject = inboxSubject(namespace, partition);
  for await (const info of jsm.consumers.list(stream)) {
    if (info.config.filter_subject !== subject) continue;
    try {
      await jsm.consumers.delete(stream, info.name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  await jsm.consumers.add(stream, consumerConfig(namespace, partition, epoch, options));
  return consumerName(partition, epoch);
}
