import type { Logger } from "pino";
import type { ContextSendClient, SendClientOptions } from "./client-types.js";
import type { ObjectDefinition, ServiceDefinition } from "./definitions.js";

/**
 * What every handler gets: its invocation id, a logger and durable one-way sends.
 *
 * A handler may run more than once (a crash before its commit, a retried error); what it does
 * through the context takes effect exactly once, when the invocation commits. Anything it does
 * outside the context (an HTTP call, a write to another database) is at-least-once.
 */
export interface Context {
  /** This invocation's id; the same on every attempt. */
  readonly invocationId: string;

  /**
   * A pino logger carrying object, key, handler and invocationId. Lines written by an attempt
   * that is later retried are still printed; they describe what ran, not what committed.
   */
  readonly log: Logger;

  /**
   * A one-way client for a keyed object. The message is buffered and published only after the
   * handler's commit: if the handler fails or the host dies first, nothing is sent; once committed,
   * it is delivered, and run once within the target's idempotency window (24 h by default).
   * A key that is not a well-formed string (a lone surrogate) or is over 1,024 bytes of UTF-8 throws
   * a `TerminalError`. With `{ delayMs }`, each send is delivered that long after the commit: a
   * durable timer in this partition, committed with the handler.
   */
  objectSendClient<D extends ObjectDefinition>(definition: D, key: string, options?: SendClientOptions): ContextSendClient<D>;

  /** A one-way client for a service; delivered like `objectSendClient`. */
  serviceSendClient<D extends ServiceDefinition>(definition: D, options?: SendClientOptions): ContextSendClient<D>;
}

/**
 * The context of a shared object handler: it reads the key's last committed state and never writes.
 * Shared handlers of one key run concurrently with each other and with the exclusive one.
 */
export interface ObjectSharedContext extends Context {
  /** The key of this object instance. */
  readonly key: string;

  /**
   * Reads one state entry; `null` when it is not set. Here and in `set` and `clear`, a name that is
   * empty, over 256 bytes of UTF-8 or not well-formed (a lone surrogate) throws a `TerminalError`.
   */
  get<T>(name: string): Promise<T | null>;

  /** The names of this key's state entries, sorted. */
  stateKeys(): Promise<string[]>;
}

/**
 * The context of an exclusive object handler: one runs per key at a time, in arrival order.
 * State writes are buffered and committed together with the handler's sends and result; a failed
 * attempt's writes are discarded. `get` sees this attempt's own writes.
 */
export interface ObjectContext extends ObjectSharedContext {
  /**
   * Sets one state entry. The value must be plain data: objects, arrays, strings, numbers, booleans,
   * null, Uint8Array, Date and bigint, which msgpack stores unchanged. Anything it would drop or
   * change (a function, a symbol, a class instance, a Map or Set, a cycle) is refused here with a
   * `TerminalError` naming its path, which fails the invocation unless the handler catches it.
   */
  set<T>(name: string, value: T): void;

  /** Removes one state entry. */
  clear(name: string): void;

  /** Removes every state entry of this key. */
  clearAll(): void;
}
