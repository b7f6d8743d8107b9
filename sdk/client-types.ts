import type { AnyDefinition, InputOf, OutputOf } from "./definitions.js";
import type { Target } from "./protocol/index.js";

/** Options of one request-response call from an external client. */
export interface CallOptions {
  /** Calls with the same key (per target handler) run the handler once; every retry gets the first result. */
  idempotencyKey?: string;
  /** How long to wait for the result before rejecting with `CallTimeoutError`. @default the client's `timeoutMs` */
  timeoutMs?: number;
}

/** Options of one one-way send from an external client. */
export interface SendOptions {
  /** Sends with the same key (per target handler) run the handler once. */
  idempotencyKey?: string;
}

/** Options of a one-way client (`objectSendClient(def, key, options)`), applied to each of its sends. */
export interface SendClientOptions {
  /**
   * Deliver each send this long after it is durably accepted: a durable timer, kept by the partition
   * and fired by its clock, surviving restarts and handoffs, never early. @default 0
   */
  delayMs?: number;
}

/** What an external send resolves with once the host's inbox has durably accepted the message. */
export interface SendReceipt {
  invocationId: string;
}

type Args<I, Opts> = [I] extends [void] ? [input?: I, options?: Opts] : [input: I, options?: Opts];

/** Request-response methods, one per handler. */
export type CallClient<D extends AnyDefinition> = {
  [K in keyof D["handlers"]]: (...args: Args<InputOf<D["handlers"][K]>, CallOptions>) => Promise<OutputOf<D["handlers"][K]>>;
};

/** One-way methods, one per handler, resolving once the message is durably accepted. */
export type SendClient<D extends AnyDefinition> = {
  [K in keyof D["handlers"]]: (...args: Args<InputOf<D["handlers"][K]>, SendOptions>) => Promise<SendReceipt>;
};

/** Options of a call made from a handler. */
export interface ContextCallOptions {
  /** Calls with the same key (per target handler) run the callee once; every caller gets its one result. */
  idempotencyKey?: string;
}

/** Request-response methods used inside a handler: the caller suspends durably until the result comes. */
export type ContextCallClient<D extends AnyDefinition> = {
  [K in keyof D["handlers"]]: (...args: Args<InputOf<D["handlers"][K]>, ContextCallOptions>) => Promise<OutputOf<D["handlers"][K]>>;
};

/** One-way methods used inside a handler: the send is released with the handler's commit. */
export type ContextSendClient<D extends AnyDefinition> = {
  [K in keyof D["handlers"]]: (...args: Args<InputOf<D["handlers"][K]>, never>) => void;
};

/**
 * The client underneath its typed methods: a call or send to a target named at run time (the HTTP
 * ingress and `npm run call` name targets by string). Internal: reached through `targetInvoker`.
 */
export interface TargetInvoker {
  call(target: Target, input: unknown, options?: CallOptions): Promise<unknown>;
  send(target: Target, input: unknown, options?: SendOptions & SendClientOptions): Promise<SendReceipt>;
}
