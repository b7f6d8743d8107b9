import type { Logger } from "pino";
import type { Reply, ReplyAddress } from "../../../sdk/internal.js";
import type { Committed, Replier, Router } from "../../partition/index.js";
import type { LocalInboxes } from "./local-inbox.js";

/** Answers callers in this process (`host.client`, and the ingress through it): a callback. */
export class LocalReplier implements Replier {
  private readonly listeners = new Set<(reply: Reply) => void>();

  constructor(private readonly log: Logger) {}

  listen(listener: (reply: Reply) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reply(to: ReplyAddress, reply: Reply): void {
    if (to.kind !== "local") {
      this.log.warn({ invocationId: reply.invocationId, kind: to.kind }, "an embedded host answers only callers in its process; reply dropped");
      return;
    }
    // Each client ignores call ids that are not its own.
    for (const listener of this.listeners) listener(reply);
  }
}

/** Sends are already in their targets' inboxes (written by the commit): wake those partitions. */
export class InboxRouter implements Router {
  constructor(private readonly inboxes: LocalInboxes) {}

  release(_partition: number, { record }: Committed): void {
    for (const entry of record.outbox) this.inboxes.wake(entry.partition);
  }
}
