import type { Logger } from "pino";
import type { ContextCallClient, ContextSendClient, SendClientOptions } from "./client-types.js";
import type { ObjectDefinition, RetryPolicy, ServiceDefinition, WorkflowDefinition } from "./definitions.js";

/** Options of a durable step: how it is retried, and how long one try may take. */
export interface RunOptions extends RetryPolicy {
  /** A try still running after this long fails and is retried under the policy. @default no limit */
  timeoutMs?: number;
}

/** Deterministic randomness: seeded by the invocation id, so a replay draws the same values. */
export interface ContextRandom {
  /** A number in [0, 1), like `Math.random()`. */
  random(): number;
  /** A version-4 UUID. */
  uuidv4(): string;
}

/** The time as the invocation first saw it: journaled, so a replay reads the same value. */
export interface ContextDate {
  /** Milliseconds since the epoch, from the host's clock (a test environment's clock in tests). */
  now(): number;
}

/**
 * What every handler gets: its invocation id, a logger, durable steps, sleeps and one-way sends.
 *
 * A handler may run more than once (a crash, a retried error). Every context action is recorded in
 * the invocation's journal; a later attempt runs the handler from the top, and the actions already
 * recorded return what they returned the first time without running again. What the handler does
 * through the context takes effect exactly once; anything it does outside the context (an HTTP call,
 * a write to another database) is at-least-once unless it is wrapped in `ctx.run`.
 */
export interface Context {
  /** This invocation's id; the same on every attempt. */
  readonly invocationId: string;

  /**
   * A pino logger carrying object, key, handler and invocationId. Silent while an attempt replays
   * what the journal already holds. Lines written by an attempt that is later retried are still
   * printed; they describe what ran, not what committed.
   */
  readonly log: Logger;

  /**
   * A durable step: runs `fn` and commits its result (or its terminal failure) before the handler
   * goes on; a later attempt gets the recorded result without running `fn` again. `fn` is retried
   * under `options` (the host's retry policy by default); after `maxAttempts` the step throws a
   * `TerminalError` carrying the last cause. The result must be plain data (see `ObjectContext.set`).
   * Steps started together run in parallel: `await Promise.all([ctx.run("a", f), ctx.run("b", g)])`.
   */
  run<T>(name: string, fn: () => T | Promise<T>, options?: RunOptions): Promise<T>;

  /** A durable sleep: it survives restarts and hand-overs, and never ends early. */
  sleep(ms: number): Promise<void>;

  /** Deterministic randomness (the same values on replay). */
  readonly rand: ContextRandom;

  /** Deterministic time (the same values on replay). */
  readonly date: ContextDate;

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

  /**
   * A request-response client for a keyed object: each call commits the journal so far, sends the
   * call, and suspends durably until the result comes back (a `TerminalError` from the callee is
   * thrown here as a `TerminalError` with its message and code). Calls started together run in
   * parallel. A call that would wait on an exclusive key already held up this call chain (`A → A`,
   * `A → B → A`) would wait forever: it throws a `TerminalError` saying so at once.
   */
  objectClient<D extends ObjectDefinition>(definition: D, key: string): ContextCallClient<D>;

  /** A request-response client for a service; see `objectClient`. */
  serviceClient<D extends ServiceDefinition>(definition: D): ContextCallClient<D>;

  /** A request-response client for a workflow key: `run(input)` starts it (once per key) and waits for its result; the other handlers are shared. */
  workflowClient<D extends WorkflowDefinition>(definition: D, key: string): ContextCallClient<D>;

  /**
   * A promise completed from outside: pass `id` to whoever will complete it
   * (`client.resolveAwakeable(id, value)`, `ctx.resolveAwakeable(id, value)`, or their `reject…`).
   * Awaiting `promise` suspends the invocation durably.
   */
  awakeable<T>(): { id: string; promise: Promise<T> };

  /** Resolves another invocation's awakeable; released with this handler's commit, like a send. */
  resolveAwakeable<T>(id: string, value: T): void;

  /** Rejects another invocation's awakeable: its `promise` throws a `TerminalError` with `reason`. */
  rejectAwakeable(id: string, reason: string): void;
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
 * The context of an exclusive object handler: one runs per key at a time, in arrival order, and
 * holds its key until it ends, across its suspension points. State writes are buffered and committed
 * together with the handler's sends, at the next suspension point or with its result; an attempt
 * that fails with a retryable error loses the writes it made since its last suspension point. `get`
 * sees this attempt's own writes.
 */
export interface ObjectContext extends ObjectSharedContext {
  /**
   * Sets one state entry. The value must be plain data: objects, arrays, strings, numbers, booleans,
   * null, Uint8Array, Date and bigint, which msgpack stores unchanged. Anything it would drop or
   * change (a function, a symbol, a class instance, a Map or Set, a cycle) is refused here with a
   * `TerminalError` naming its path, which fails the invocation unless the handler catches it. The
   * value is encoded here: changing it afterwards changes nothing.
   */
  set<T>(name: string, value: T): void;

  /** Removes one state entry. */
  clear(name: string): void;

  /** Removes every state entry of this key. */
  clearAll(): void;
}

/** A workflow's durable promise: resolved once (later resolutions change nothing), awaited by `run`. */
export interface DurablePromise<T> {
  /** Waits until the promise is resolved (durably: across restarts); throws a `TerminalError` if it was rejected. */
  get(): Promise<T>;
  /** Its value if it is resolved now, `undefined` if not yet; throws a `TerminalError` if it was rejected. */
  peek(): Promise<T | undefined>;
  /** Resolves it, with this handler's commit. */
  resolve(value: T): void;
  /** Rejects it: `get` throws a `TerminalError` with `reason`. */
  reject(reason: string): void;
}

/** The context of a workflow's `run`: an exclusive object context with durable promises. */
export interface WorkflowContext extends ObjectContext {
  /** The durable promise `name` of this workflow key (a signal its shared handlers resolve). */
  promise<T>(name: string): DurablePromise<T>;
}

/** The context of a workflow's other handlers: shared, with the workflow's durable promises. */
export interface WorkflowSharedContext extends ObjectSharedContext {
  promise<T>(name: string): DurablePromise<T>;
}
