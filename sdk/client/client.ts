import { randomBytes } from "node:crypto";
import type { CallClient, CallOptions, SendClient, SendClientOptions, SendOptions, SendReceipt, TargetInvoker } from "../client-types.js";
import type { AnyDefinition, ObjectDefinition, ServiceDefinition, WorkflowDefinition } from "../definitions.js";
import { CallTimeoutError, TerminalError, outcomeError } from "../errors.js";
import {
  type ControlCommand,
  type Envelope,
  type InvocationId,
  type Reply,
  type Target,
  decode,
  encode,
  encodeData,
  idempotentInvocationId,
  newInvocationId,
  objectKeyProblem,
  parseAwakeableId,
  parseInvocationId,
  partitionOfTarget,
  targetLabel,
} from "../protocol/index.js";
import type { ClientTransport } from "./transport.js";

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
  /**
   * Request-response calls to one workflow key: `run(input)` starts it and resolves with its result
   * (a second `run` of the key resolves with the first one's); the other handlers are shared.
   */
  workflowClient<D extends WorkflowDefinition>(definition: D, key: string): CallClient<D>;
  /** One-way sends to one workflow key: `run(input)` starts it once, however often it is sent. */
  workflowSendClient<D extends WorkflowDefinition>(definition: D, key: string): SendClient<D>;
  /**
   * Resolves an awakeable (`ctx.awakeable()`): the invocation waiting on it goes on with `value`.
   * Resolves once the waiting partition's inbox durably holds it. Completing an awakeable that has
   * an outcome already changes nothing; an id that is not an awakeable's is refused (`TerminalError`, 400).
   */
  resolveAwakeable<T>(id: string, value: T): Promise<void>;
  /** Rejects an awakeable: the invocation waiting on it gets a `TerminalError` with `reason`. */
  rejectAwakeable(id: string, reason: string): Promise<void>;
  /**
   * Cancels a live invocation, cooperatively: its pending await (or its next step, call, sleep or
   * awakeable) throws a `CancelledError`, so compensation in a `catch` runs; the calls it waits on
   * are cancelled too. Its callers get its result (a `CancelledError` unless it handles the
   * cancellation). Resolves once every partition durably holds the command; an id that is not live
   * anywhere changes nothing.
   */
  cancel(invocationId: string): Promise<void>;
  /**
   * Kills a live invocation at once, without compensation: its callers get a `CancelledError`, its
   * key is released, and the calls it waits on are killed too. What it committed stays committed.
   */
  kill(invocationId: string): Promise<void>;
  /** Resumes a paused invocation (its retries ran out): it runs again with a fresh retry budget. One backing off runs now. */
  resume(invocationId: string): Promise<void>;
  /** Rejects calls still waiting and closes the connection. */
  close(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * A client over any transport: what `connect()` returns (over NATS), and `host.client`.
 * Internal: users get one from `connect()` or a host.
 */
export class Client implements CairnClient {
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /**
   * Call ids only tell this client's answers apart (they come back on its own reply address): a
   * counter after a random prefix, so that an answer meant for an earlier client is not taken.
   */
  private readonly callIdPrefix = randomBytes(6).toString("hex");
  private calls = 0;

  constructor(
    private readonly transport: ClientTransport,
    private readonly config: { timeoutMs: number },
  ) {
    transport.listen((reply) => this.onReply(reply));
  }

  objectClient<D extends ObjectDefinition>(definition: D, key: string): CallClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`objectClient(${definition.name}, key)`, key, this.call)) as CallClient<D>;
  }

  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): SendClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`objectSendClient(${definition.name}, key)`, key, this.sendWith(options))) as SendClient<D>;
  }

  workflowClient<D extends WorkflowDefinition>(definition: D, key: string): CallClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`workflowClient(${definition.name}, key)`, key, this.call)) as CallClient<D>;
  }

  workflowSendClient<D extends WorkflowDefinition>(definition: D, key: string): SendClient<D> {
    return this.methods(definition, objectTarget(definition.name, key), keyChecked(`workflowSendClient(${definition.name}, key)`, key, this.send)) as SendClient<D>;
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

  async resolveAwakeable<T>(id: string, value: T): Promise<void> {
    const result = encodeData(value === undefined ? null : value, "resolveAwakeable(id, value): the value", "value", 400);
    await this.completeAwakeable("resolveAwakeable", id, { ok: true, value: result });
  }

  async rejectAwakeable(id: string, reason: string): Promise<void> {
    await this.completeAwakeable("rejectAwakeable", id, { ok: false, error: { name: "TerminalError", message: String(reason), code: 500 } });
  }

  private async completeAwakeable(method: string, id: string, outcome: unknown): Promise<void> {
    if (this.closed) throw new Error("cairn client is closed");
    const waiting = parseAwakeableId(id);
    if (!waiting) throw new TerminalError(`${method}(id, ...): ${JSON.stringify(String(id).slice(0, 80))} is not an awakeable id`, { errorCode: 400 });
    const envelope: Envelope = { invocationId: waiting.invocationId, target: waiting.target, completes: { index: waiting.index, from: waiting.nonce } };
    await this.transport.append(waiting.partition, envelope, encode(outcome), { dedup: true });
  }

  cancel(invocationId: string): Promise<void> {
    return this.control("cancel", invocationId);
  }

  kill(invocationId: string): Promise<void> {
    return this.control("kill", invocationId);
  }

  resume(invocationId: string): Promise<void> {
    return this.control("resume", invocationId);
  }

  private async control(command: ControlCommand, invocationId: string): Promise<void> {
    if (this.closed) throw new Error("cairn client is closed");
    const id = parseInvocationId(String(invocationId));
    if (!id) throw new TerminalError(`${command}(invocationId): ${JSON.stringify(String(invocationId).slice(0, 80))} is not an invocation id`, { errorCode: 400 });
    const reply = await this.transport.control(command, id);
    if (!reply.found) throw new TerminalError(`${command}: no live invocation ${id} (it completed already, or never existed)`, { errorCode: 404 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pending.values()) pending.reject(new Error("cairn client closed while the call was waiting"));
    this.pending.clear();
    await this.transport.close();
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
    const callId = `${this.callIdPrefix}${(this.calls++).toString(36)}`;
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
      await this.append({ invocationId, target, replyTo: this.transport.replyAddress(callId) }, input, false);
    } catch (error) {
      // Without an acknowledgement the message may still be in the inbox and its answer on the way:
      // keep waiting until the call's own timeout. Anything else means it never got in.
      if (!this.transport.mayHaveLanded(error)) {
        this.pending.get(callId)?.reject(error instanceof Error ? error : new Error(String(error)));
        this.pending.delete(callId);
      }
    }
    return result;
  };

  private readonly send = async (target: Target, input: unknown, options: (SendOptions & SendClientOptions) | undefined): Promise<SendReceipt> => {
    const invocationId = this.invocationId(target, options?.idempotencyKey);
    const delayMs = options?.delayMs;
    if (delayMs !== undefined && (!Number.isSafeInteger(delayMs) || delayMs < 0)) {
      throw new TerminalError(`${targetLabel(target)}: delayMs must be a whole number of milliseconds, 0 or more (got ${String(delayMs)})`, { errorCode: 400 });
    }
    await this.append(delayMs ? { invocationId, target, delayMs } : { invocationId, target }, input, true);
    return { invocationId };
  };

  private invocationId(target: Target, idempotencyKey: string | undefined): InvocationId {
    if (idempotencyKey === undefined) return newInvocationId();
    if (typeof idempotencyKey !== "string" || idempotencyKey.length === 0) {
      throw new TypeError(`${targetLabel(target)}: idempotencyKey must be a non-empty string`);
    }
    return idempotentInvocationId(targetLabel(target), idempotencyKey);
  }

  private async append(envelope: Envelope, input: unknown, dedup: boolean): Promise<void> {
    if (this.closed) throw new Error("cairn client is closed");
    const { target } = envelope;
    // Also for targets named at run time (the ingress, the CLI), which skip the typed clients' check.
    const keyProblem = target.type === "object" ? objectKeyProblem(target.key) : undefined;
    if (keyProblem !== undefined) throw new TerminalError(`${target.name}.${target.handler}: ${keyProblem}`, { errorCode: 400 });
    const partition = partitionOfTarget(envelope.target, envelope.invocationId, await this.transport.partitions());
    const data = encodeData(input, `${targetLabel(envelope.target)}: the input`, "input", 400);
    const max = this.transport.maxInputBytes();
    if (max !== undefined && data.byteLength > max) {
      throw new TerminalError(`${targetLabel(envelope.target)}: payload of ${data.byteLength} bytes exceeds the transport's maximum of ${max} bytes`, { errorCode: 413 });
    }
    await this.transport.append(partition, envelope, data, { dedup });
  }

  private onReply(reply: Reply): void {
    const pending = this.pending.get(reply.callId);
    if (!pending) return;
    this.pending.delete(reply.callId);
    if (!reply.ok) {
      pending.reject(outcomeError(reply.error));
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

