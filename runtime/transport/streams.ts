import { AckPolicy, DeliverPolicy, type JetStreamManager, RetentionPolicy, StorageType, nanos } from "nats";
import { inboxStreamName, inboxSubject, partitionsFromDescription, streamDescription } from "../../sdk/internal.js";
import { ConfigError } from "../errors.js";
import { isNotFound } from "./jetstream-errors.js";

const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;


/**
 * Creates the inbox stream, or checks that an existing one has the same partition count:
 * a different count would send a key's messages to two partitions.
 */
export async function ensureInboxStream(jsm: JetStreamManager, namespace: string, partitions: number): Promise<string> {
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
  });
  return name;
}

const consumerName = (partition: number) => `p${partition}`;

function consumerConfig(namespace: string, partition: number, options: { ackWaitMs: number; maxAckPending: number }) {
  return {
    durable_name: consumerName(partition),
    filter_subject: inboxSubject(namespace, partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
    max_deliver: -1,
  };
}

/** Creates the partition's consumer if it does not exist (an operator deleted it, say). */
export async function ensurePartitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  namespace: string,
  partition: number,
  options: { ackWaitMs: number; maxAckPending: number },
): Promise<void> {
  try {
    await jsm.consumers.info(stream, consumerName(partition));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, consumerConfig(namespace, partition, options));
  }
}

/**
 * (Re)creates the partition's consumer from scratch: every message not yet acked is delivered again
 * at once, in stream order, instead of after the old consumer's ack wait.
 */
export async function resetPartitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  namespace: string,
  partition: number,
  options: { ackWaitMs: number; maxAckPending: number },
): Promise<string> {
  const durable = consumerName(partition);
  try {
    await jsm.consumers.delete(stream, durable);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await jsm.consumers.add(stream, consumerConfig(namespace, partition, options));
  return durable;
}
