import type { ControlCommand, ControlReply, Envelope, ReplyAddress, Reply } from "../protocol/index.js";

/**
 * How a client reaches the hosts' inboxes: over NATS (`connect()`), or in the host's own process
 * (`host.client` in embedded mode). Everything else a client does (ids, key checks, encoding,
 * timeouts, errors) is the same code for both.
 */
export interface ClientTransport {
  /** The namespace's partition count, which decides the partition of a target. */
  partitions(): Promise<number>;
  /** The largest input the transport can carry, when it knows one below the hosts' own limit. */
  maxInputBytes(): number | undefined;
  /** Where answers to the call `callId` reach this client. */
  replyAddress(callId: string): ReplyAddress;
  /**
   * Appends an invocation to its partition's inbox; resolves once the inbox durably holds it. With
   * `dedup`, a second copy of the same message (a send retried) is dropped.
   */
  append(partition: number, envelope: Envelope, data: Uint8Array, options: { dedup: boolean }): Promise<void>;
  /**
   * Whether a failed append may still have landed (an acknowledgement that never came): the call
   * then keeps waiting for its answer until its own timeout.
   */
  mayHaveLanded(error: unknown): boolean;
  /**
   * An operator's command for a live invocation, taken by the partition that holds it: resolves once
   * it is durable there, or says it was found nowhere.
   */
  control(command: ControlCommand, invocationId: string): Promise<ControlReply>;
  /** Starts delivering the answers to this client's calls. */
  listen(onReply: (reply: Reply) => void): void;
  close(): Promise<void>;
}
