import { type MsgHdrs, type NatsConnection, type Subscription, createInbox } from "nats";

/** JetStream's answer to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

/** JetStream answered and refused the message: it is not in the stream. */
export class PublishRefusedError extends Error {
  override name = "PublishRefusedError";
}

/** No answer in time: the message may or may not be in the stream. */
export class PubAckTimeoutError extends Error {
  override name = "PubAckTimeoutError";
}

interface Waiting {
  resolve(ack: PubAck): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const decoder = new TextDecoder();

/**
 * Publishes into JetStream streams with core NATS publishes whose PubAcks all come back on one
 * wildcard subscription, instead of a request per message: many publishes stay in flight on one
 * connection at a small fraction of the CPU (see "Performance notes" in DESIGN.md).
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  private readonly ackTimeoutMs: number;
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;

  /** PubAcks come back on `<inboxPrefix>.<unique>.*`: a client confined to its prefix can receive them. */
  constructor(
    private readonly nc: NatsConnection,
    options: { ackTimeoutMs?: number; inboxPrefix?: string } = {},
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.prefix = createInbox(options.inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        // A subscription error (permissions, say) carries no message; publishes then time out.
        if (error) return;
        const token = msg.subject.slice(this.prefix.length + 1);
        const waiting = this.waiting.get(token);
        if (!waiting) return;
        this.waiting.delete(token);
        clearTimeout(waiting.timer);
        if (msg.headers && msg.headers.code >= 400) {
          waiting.reject(
            new PublishRefusedError(
              msg.headers.code === 503 ? "no JetStream stream accepts this subject (503 no responders)" : `JetStream refused the publish: ${msg.headers.code} ${msg.headers.description}`,
            ),
          );
          return;
        }
        let ack: PubAck & { error?: { code: number; description: string } };
        try {
          ack = JSON.parse(decoder.decode(msg.data)) as PubAck & { error?: { code: number; description: string } };
        } catch {
          waiting.reject(new PubAckTimeoutError("JetStream sent an unreadable PubAck"));
          return;
        }
        if (ack.error) waiting.reject(new PublishRefusedError(`JetStream refused the publish: ${ack.error.description} (${ack.error.code})`));
        else waiting.resolve(ack);
      },
    });
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    const token = (this.next++).toString(36);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new PubAckTimeoutError(`no PubAck for ${subject} within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
      this.waiting.set(token, { resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}.${token}`, headers });
      } catch (error) {
        this.waiting.delete(token);
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Rejects what still waits and stops listening. */
  close(): void {
    for (const waiting of this.waiting.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error("publisher closed"));
    }
    this.waiting.clear();
    this.subscription.unsubscribe();
  }
}
