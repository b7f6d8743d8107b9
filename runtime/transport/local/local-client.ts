import type { ClientTransport, ControlCommand, ControlReply, Envelope, Reply, ReplyAddress } from "../../../sdk/internal.js";
import type { InboxKey, Store } from "../../store/index.js";
import type { LocalInboxes } from "./local-inbox.js";
import type { LocalReplier } from "./local-replier.js";

/**
 * `host.client` in embedded mode: a call or send is appended to its partition's inbox table in a
 * synced transaction of its own (durably accepted before it is acknowledged), and answered in
 * process.
 */
export class LocalClientTransport implements ClientTransport {
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly inboxes: LocalInboxes,
    private readonly replier: LocalReplier,
    private readonly partitionCount: number,
    private readonly controlHost: (command: ControlCommand, invocationId: string) => Promise<ControlReply>,
  ) {}

  /** Every partition is this host's. */
  control(command: ControlCommand, invocationId: string): Promise<ControlReply> {
    return this.controlHost(command, invocationId);
  }

  partitions(): Promise<number> {
    return Promise.resolve(this.partitionCount);
  }

  maxInputBytes(): number | undefined {
    return undefined; // the host refuses an input over its maxPayloadBytes itself
  }

  replyAddress(callId: string): ReplyAddress {
    return { kind: "local", callId };
  }

  /**
   * The partition gets the message at once, while its inbox write is being synced: the handler runs
   * meanwhile, and its commit waits for that write (see `Delivery.accepted`). A resent copy needs no
   * dedup here: it has the same invocation id, which its completion answers.
   */
  async append(partition: number, envelope: Envelope, data: Uint8Array): Promise<void> {
    const row = { envelope, data };
    const { keys, written } = this.store.appendInbox([{ partition, row }]);
    this.inboxes.accept(partition, keys[0] as InboxKey, row, written);
    await written;
  }

  mayHaveLanded(): boolean {
    return false; // a failed LMDB transaction wrote nothing
  }

  listen(onReply: (reply: Reply) => void): void {
    this.unlisten = this.replier.listen(onReply);
  }

  async close(): Promise<void> {
    this.unlisten?.();
  }
}
