import type { AnyDefinition, InputOf, OutputOf } from "./definitions.js";

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

/** What an external send resolves with once JetStream has accepted the message. */
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

/** One-way methods used inside a handler: the send is released with the handler's commit. */
export type ContextSendClient<D extends AnyDefinition> = {
  [K in keyof D["handlers"]]: (...args: Args<InputOf<D["handlers"][K]>, never>) => void;
};
