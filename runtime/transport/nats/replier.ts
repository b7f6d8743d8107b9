import type { NatsConnection } from "nats";
import type { Logger } from "pino";
import { TerminalError } from "../../../sdk/index.js";
import { type Reply, type ReplyAddress, encode } from "../../../sdk/internal.js";
import { terminalOutcome } from "../../invoke/index.js";
import type { Committed, Replier, Router } from "../../partition/index.js";
import type { OutboxEntry } from "../../store/index.js";
import type { OutboxRelay } from "./outbox-relay.js";

/** Answers over core NATS, on the caller's reply subject. A result too large for NATS becomes an error the caller can see. */
export class NatsReplier implements Replier {
  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  reply(to: ReplyAddress, reply: Reply): void {
    if (to.kind !== "nats") {
      this.log.warn({ invocationId: reply.invocationId, kind: to.kind }, "a NATS host cannot answer an in-process caller; reply dropped");
      return;
    }
    try {
      this.nc.publish(to.subject, encode(reply));
    } catch (error) {
      this.log.warn({ err: error, invocationId: reply.invocationId }, "reply could not be sent");
      if (!reply.ok) return;
      const tooLarge = terminalOutcome(
        new TerminalError(`the result of ${reply.invocationId} (${reply.value.byteLength} bytes) could not be sent: ${error instanceof Error ? error.message : String(error)}`),
      );
      try {
        this.nc.publish(to.subject, encode({ callId: reply.callId, invocationId: reply.invocationId, ...tooLarge }));
      } catch {
        // The connection itself is gone; the caller's timeout covers it.
      }
    }
  }
}

/** Committed sends go to the outbox relay, which publishes them to their partitions' inbox subjects. */
export class RelayRouter implements Router {
  constructor(private readonly relay: OutboxRelay) {}

  release(_partition: number, { record, outboxKeys }: Committed): void {
    this.relay.add(outboxKeys.map((key, i) => ({ key, entry: record.outbox[i] as OutboxEntry })));
  }
}
