import { type NatsConnection, RequestStrategy, type StreamInfo, type Subscription, createInbox } from "nats";
import {
  type ControlCommand,
  type ControlReply,
  type Envelope,
  type Reply,
  type ReplyAddress,
  controlRequestSubject,
  decode,
  inboxStreamName,
  inboxSubject,
  isReply,
  partitionsFromDescription,
} from "../../protocol/index.js";
import type { ClientTransport } from "../transport.js";
import { envelopeHeaders } from "./headers.js";
import { JetStreamPublisher, PubAckTimeoutError } from "./publisher.js";

/**
 * A client's way in over NATS: invocations are published into the namespace's inbox stream (a
 * PubAck means JetStream holds them), answers come back on one subscription under the client's
 * inbox prefix.
 */
/** How long a control command waits for the hosts' answers. */
const CONTROL_WAIT_MS = 2000;

export class NatsClientTransport implements ClientTransport {
  private readonly publisher: JetStreamPublisher;
  private readonly replySubject: string;
  private replies: Subscription | undefined;
  private partitionCount: Promise<number> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: { namespace: string; inboxPrefix?: string },
  ) {
    this.replySubject = createInbox(options.inboxPrefix);
    this.publisher = new JetStreamPublisher(nc, { inboxPrefix: options.inboxPrefix });
  }

  listen(onReply: (reply: Reply) => void): void {
    this.replies = this.nc.subscribe(this.replySubject, {
      // A subscription error carries no message; the calls it affects end at their timeout.
      callback: (err, msg) => {
        if (err) return;
        let reply: unknown;
        try {
          reply = decode(msg.data);
        } catch {
          return;
        }
        if (isReply(reply)) onReply(reply);
      },
    });
  }

  replyAddress(callId: string): ReplyAddress {
    return { kind: "nats", subject: this.replySubject, callId };
  }

  maxInputBytes(): number | undefined {
    // Over the server's own limit the message could never reach a host to be refused there.
    const serverMax = this.nc.info?.max_payload;
    return serverMax === undefined ? undefined : serverMax - 4096;
  }

  /**
   * Calls are published without a JetStream message id: a retry must reach the host, which answers
   * it from the recorded result. Sends carry a message id derived from the whole message
   * (`messageDedupId`), so JetStream drops a re-sent copy, and only that.
   */
  async append(partition: number, envelope: Envelope, data: Uint8Array, options: { dedup: boolean }): Promise<void> {
    await this.publisher.publish(inboxSubject(this.options.namespace, partition), data, envelopeHeaders(envelope, options.dedup ? data : undefined));
  }

  /**
   * Asks every host (a request answered by each): the one whose partition holds the invocation takes
   * the command. Not found means every partition was looked in (hosts may be trading partitions).
   */
  async control(command: ControlCommand, invocationId: string): Promise<ControlReply> {
    const partitions = await this.partitions();
    const subject = controlRequestSubject(this.options.namespace);
    const looked = new Set<number>();
    let answers = 0;
    let replies: AsyncIterable<{ data: Uint8Array }>;
    try {
      replies = await this.nc.requestMany(subject, JSON.stringify({ command, invocationId }), { strategy: RequestStrategy.Timer, maxWait: CONTROL_WAIT_MS });
    } catch (error) {
      throw new Error(`${command}: cannot reach the hosts on ${subject} (${String(error)}); control commands need a host's (operator's) NATS credentials`, { cause: error });
    }
    for await (const msg of replies) {
      answers++;
      let reply: ControlReply | { error: string };
      try {
        reply = JSON.parse(new TextDecoder().decode(msg.data)) as ControlReply | { error: string };
      } catch {
        continue;
      }
      if ("error" in reply) throw new Error(`${command} ${invocationId}: ${reply.error}`);
      if (reply.found) return reply;
      for (const p of reply.ownedPartitions ?? []) looked.add(p);
    }
    if (answers === 0) throw new Error(`${command}: no host answered on ${subject}; is a host running, and may these credentials publish there (operators' only)?`);
    if (looked.size < partitions) {
      throw new Error(`${command} ${invocationId}: not found, but ${partitions - looked.size} of ${partitions} partitions had no owner that answered (hosts starting or trading partitions); try again`);
    }
    return { found: false, ownedPartitions: [...looked] };
  }

  mayHaveLanded(error: unknown): boolean {
    return error instanceof PubAckTimeoutError;
  }

  partitions(): Promise<number> {
    if (!this.partitionCount) {
      const stream = inboxStreamName(this.options.namespace);
      this.partitionCount = this.inboxStreamInfo(stream)
        .then((info) => {
          const partitions = partitionsFromDescription(info.config.description);
          if (partitions === undefined) throw new Error(`stream ${stream} has no partition count in its description`);
          return partitions;
        })
        .catch((error: unknown) => {
          this.partitionCount = undefined;
          throw new Error(`cannot read the Cairn inbox stream "${stream}": is a host running? (${String(error)})`, { cause: error });
        });
    }
    return this.partitionCount;
  }

  /**
   * The inbox stream's info, through the JetStream API of this connection's account, or else under
   * `<namespace>.api`: where a client in an account of its own (the shipped nats-auth.conf) reaches
   * the hosts' account. No account-info check: such a client may read this and nothing else.
   */
  private async inboxStreamInfo(stream: string): Promise<StreamInfo> {
    try {
      return await (await this.nc.jetstreamManager({ checkAPI: false })).streams.info(stream);
    } catch (error) {
      const imported = await this.nc.jetstreamManager({ checkAPI: false, apiPrefix: `${this.options.namespace}.api` });
      return await imported.streams.info(stream).catch(() => Promise.reject(error));
    }
  }

  async close(): Promise<void> {
    this.replies?.unsubscribe();
    this.publisher.close();
    await this.nc.close();
  }
}
