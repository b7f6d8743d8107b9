import { randomBytes } from "node:crypto";
import { connect as natsConnect, createInbox, type NatsConnection, type StreamInfo, type Subscription } from "nats";
import { z } from "zod";
import type { CallClient, CallOptions, SendClient, SendClientOptions, SendOptions, SendReceipt, TargetInvoker } from "../client-types.js";
import type { AnyDefinition, ObjectDefinition, ServiceDefinition } from "../definitions.js";
import { CallTimeoutError, CancelledError, TerminalError, TimeoutError } from "../errors.js";
import {
  type Envelope,
  type InvocationId,
  type Target,
  JetStreamPublisher,
  PubAckTimeoutError,
  decode,
  encodeData,
  envelopeHeaders,
  idempotentInvocationId,
  inboxStreamName,
  inboxSubject,
  isReply,
  newInvocationId,
  objectKeyProblem,
  partitionOfTarget,
  partitionsFromDescription,
  targetLabel,
} from "../protocol/index.js";
import { checkCredentials, natsClientOptions, natsConnectionFields } from "./nats-connection.js";

const ConnectOptionsSchema = z
  .object({
    ...natsConnectionFields,
    /** Subject and stream namespace; must match the hosts'. @default "cairn" */
    namespace: z.string().regex(/^[A-Za-z0-9_-]+$/).default("cairn"),
    /** How long a call waits for its result. @default 30000 */
    timeoutMs: z.number().int().positive().default(30_000),
    /** The NATS connection name, shown by `nats-server` monitoring. @default "cairn-client" */
    name: z.string().default("cairn-client"),
  })
  .strict()
  .superRefine(checkCredentials);

/** Options of {@link connect}. */
export type ConnectOptions = z.input<typeof ConnectOptionsSchema>;

/** An external client: calls and sends to objects and services from outside any handler. */
export interface CairnClient {
  /**
   * Request-response calls to one object key; each resolves with the handler's result. A key that is
   * not a well-formed string (a lone surrogate) or is over 1,024 bytes of UTF-8 is refused before
   * publishing: each call rejects with a `TerminalError` (code 400). The same for `objectSendClient`.
   */
  objectClient<D extends ObjectDefinition>(definition: D, key: string): CallClient<D>;
  /**
   * One-way sends to one object key; each resolves with `{ invocationId }` once the inbox durably
   * accepted it. With `{ delayMs }`, each send is delivered that long after it is accepted.
   */
  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): SendClient<D>;
  serviceClient<D extends ServiceDefinition>(definition: D): CallClient<D>;
  serviceSendClient<D extends ServiceDefinition>(definition: D, options?: SendClientOptions): SendClient<D>;
  /** Rejects calls still waiting and closes the connection. */
  close(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Connects an external client to the NATS servers the hosts use.
 *
 * @example
 * const cairn = await connect({ servers: "nats://127.0.0.1:4222" });
 * const { itemCount } = await cairn.objectClient(shoppingCart, "user-1").addItem(item, { idempotencyKey: "req-42" });
 */
export async function connect(options: ConnectOptions): Promise<CairnClient> {
  const parsed = ConnectOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`invalid connect options:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const nc = await natsConnect(natsClientOptions(config, config.name));
  return new Client(nc, config);
}

class Client implements CairnClient {
  private readonly publisher: JetStreamPublisher;
  private readonly replySubject: string;
  private readonly replies: Subscription;
  private readonly pending = new Map<string, Pending>();
  private partitions: Promise<number> | undefined;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: z.output<typeof ConnectOptionsSchema>,
  ) {
    this.replySubject = createInbox(config.inboxPrefix);
    this.publisher = new JetStreamPublisher(nc, { inboxPrefix: config.inboxPrefix });
    this.replies = nc.subscribe(this.replySubject, {
      // A subscription error carries no message; the calls it affects end at their timeout.
      callback: (err, msg) => {
        if (!err) this.onReply(msg.data);
      },
    });
  }

  objectClient<D extends ObjectDefinition>(definition: D, key: string): CallClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`objectClient(${definition.name}, key)`, key, this.call)) as CallClient<D>;
  }

  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): SendClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`objectSendClient(${definition.name}, key)`, key, this.sendWith(options))) as SendClient<D>;
  }

  serviceClient<D extends ServiceDefinition>(definition: D): CallClient<D> {
    return this.methods(definition, serviceTarget(definition.name), this.call) as CallClient<D>;
  }

  serviceSendClient<D extends ServiceDefinition>(definition: D, options?: SendClientOptions): SendClient<D> {
    return this.methods(definition, serviceTarget(definition.name), this.sendWith(options)) as SendClient<D>;
  }

  /** The calls and sends underneath the typed methods (see {@link targetInvoker}). */
  readonly invoker: TargetInvoker = {
    call: (target, input, options) => this.call(target, input, options),
    send: (target, input, options) => this.send(target, input, options),
  };

  private sendWith(clientOptions: SendClientOptions | undefined): (target: Target, input: unknown, options: SendOptions | undefined) => Promise<SendReceipt> {
    if (clientOptions?.delayMs === undefined) return this.send;
    return (target, input, options) => this.send(target, input, { ...options, delayMs: clientOptions.delayMs });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pending.values()) pending.reject(new Error("cairn client closed while the call was waiting"));
    this.pending.clear();
    this.replies.unsubscribe();
    this.publisher.close();
    await this.nc.close();
  }

  private methods<O>(
    definition: AnyDefinition,
    target: (handler: string) => Target,
    invoke: (target: Target, input: unknown, options: O | undefined) => Promise<unknown>,
  ): Record<string, (input?: unknown, options?: O) => Promise<unknown>> {
    const client: Record<string, (input?: unknown, options?: O) => Promise<unknown>> = {};
    for (const handler of Object.keys(definition.handlers)) {
      client[handler] = (input, opts) => invoke(target(handler), input, opts);
    }
    return client;
  }

  private readonly call = async (target: Target, input: unknown, options: CallOptions | undefined): Promise<unknown> => {
    const invocationId = this.invocationId(target, options?.idempotencyKey);
    const callId = randomBytes(8).toString("hex");
    const timeoutMs = options?.timeoutMs ?? this.config.timeoutMs;
    const advice =
      options?.idempotencyKey === undefined
        ? "Calls without an idempotency key may run twice if retried; pass { idempotencyKey } to retry safely."
        : "Retry with the same idempotency key to get the one result without running it twice.";
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(callId);
        reject(new CallTimeoutError(`${targetLabel(target)}: no result within ${timeoutMs} ms; the outcome is unknown. ${advice}`, { invocationId }));
      }, timeoutMs);
      this.pending.set(callId, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
    });
    // The timer may reject while the publish is still awaited below; this marks the rejection as
    // handled until the caller receives it from `return result`.
    result.catch(() => undefined);
    // Registered before publishing: a fast host must not answer before anyone listens.
    try {
      await this.publish({ invocationId, target, replyTo: { subject: this.replySubject, callId } }, input, false);
    } catch (error) {
      // Without a PubAck the message may still be in the stream and its answer on the way: keep
      // waiting until the call's own timeout. Anything else means it never got in.
      if (!(error instanceof PubAckTimeoutError)) {
        this.pending.get(callId)?.reject(error instanceof Error ? error : new Error(String(error)));
        this.pending.delete(callId);
      }
    }
    return result;
  };

  private readonly send = async (target: Target, input: unknown, options: (SendOptions & SendClientOptions) | undefined): Promise<SendReceipt> => {
    const invocationId = this.invocationId(target, options?.idempotencyKey);
    await this.publish({ invocationId, target }, input, true);
    return { invocationId };
  };

  private invocationId(target: Target, idempotencyKey: string | undefined): InvocationId {
    if (idempotencyKey === undefined) return newInvocationId();
    if (typeof idempotencyKey !== "string" || idempotencyKey.length === 0) {
      throw new TypeError(`${targetLabel(target)}: idempotencyKey must be a non-empty string`);
    }
    return idempotentInvocationId(targetLabel(target), idempotencyKey);
  }

  /**
   * Calls are published without a JetStream message id: a retry must reach the host, which answers
   * it from the recorded result. Sends carry a message id derived from the whole message
   * (`messageDedupId`), so JetStream drops a re-sent copy, and only that.
   */
  private async publish(envelope: Envelope, input: unknown, dedup: boolean): Promise<void> {
    if (this.closed) throw new Error("cairn client is closed");
    const partitions = await this.partitionCount();
    const subject = inboxSubject(this.config.namespace, partitionOfTarget(envelope.target, envelope.invocationId, partitions));
    const data = encodeData(input, `${targetLabel(envelope.target)}: the input`, "input", 400);
    // Over the server's own limit the message could never reach a host to be refused there.
    const serverMax = this.nc.info?.max_payload;
    if (serverMax !== undefined && data.byteLength > serverMax - 4096) {
      throw new TerminalError(
        `${targetLabel(envelope.target)}: payload of ${data.byteLength} bytes exceeds the NATS server's max_payload of ${serverMax} bytes`,
        { errorCode: 413 },
      );
    }
    await this.publisher.publish(subject, data, envelopeHeaders(envelope, dedup ? data : undefined));
  }

  private partitionCount(): Promise<number> {
    if (!this.partitions) {
      const stream = inboxStreamName(this.config.namespace);
      this.partitions = this.inboxStreamInfo(stream)
        .then((info) => {
          const partitions = partitionsFromDescription(info.config.description);
          if (partitions === undefined) throw new Error(`stream ${stream} has no partition count in its description`);
          return partitions;
        })
        .catch((error: unknown) => {
          this.partitions = undefined;
          throw new Error(`cannot read the Cairn inbox stream "${stream}": is a host running? (${String(error)})`, { cause: error });
        });
    }
    return this.partitions;
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
      const imported = await this.nc.jetstreamManager({ checkAPI: false, apiPrefix: `${this.config.namespace}.api` });
      return await imported.streams.info(stream).catch(() => Promise.reject(error));
    }
  }

  private onReply(data: Uint8Array): void {
    let reply: unknown;
    try {
      reply = decode(data);
    } catch {
      return;
    }
    if (!isReply(reply)) return;
    const pending = this.pending.get(reply.callId);
    if (!pending) return;
    this.pending.delete(reply.callId);
    if (!reply.ok) {
      pending.reject(remoteError(reply.error));
      return;
    }
    try {
      pending.resolve(decode(reply.value));
    } catch (error) {
      pending.reject(new Error(`the result of invocation ${reply.invocationId} does not decode`, { cause: error }));
    }
  }
}

/** The untyped calls and sends of a client made by `connect()` or bound to a host (`host.client`). */
export function targetInvoker(client: CairnClient): TargetInvoker {
  if (!(client instanceof Client)) throw new TypeError("targetInvoker: not a Cairn client");
  return client.invoker;
}

const objectTarget =
  (name: string, key: string) =>
  (handler: string): Target => ({ type: "object", name, key, handler });

/** `invoke`, or, for a key no host would accept, a refusal before anything is published. */
function keyChecked<O>(
  call: string,
  key: string,
  invoke: (target: Target, input: unknown, options: O | undefined) => Promise<unknown>,
): (target: Target, input: unknown, options: O | undefined) => Promise<unknown> {
  const problem = objectKeyProblem(key);
  if (problem === undefined) return invoke;
  return async (target) => {
    throw new TerminalError(`${call}.${target.handler}: ${problem}`, { errorCode: 400 });
  };
}

const serviceTarget =
  (name: string) =>
  (handler: string): Target => ({ type: "service", name, handler });

function remoteError(error: { name: string; message: string; code: number }): TerminalError {
  const options = { errorCode: error.code };
  switch (error.name) {
    case "TimeoutError":
      return new TimeoutError(error.message, options);
    case "CancelledError":
      return new CancelledError(error.message, options);
    default:
      return new TerminalError(error.message, options);
  }
}
