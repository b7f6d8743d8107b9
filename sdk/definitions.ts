import type { z } from "zod";
import type { Context, ObjectContext, ObjectSharedContext, WorkflowContext } from "./context.js";

/** How a handler is scheduled. */
export const HandlerKind = { Exclusive: "exclusive", Shared: "shared", Service: "service" } as const;
export type HandlerKind = (typeof HandlerKind)[keyof typeof HandlerKind];

/**
 * How a failing handler is retried. Errors that are not `TerminalError`s are retried with an
 * exponential backoff; after `maxAttempts` the invocation fails with a `TerminalError` that carries
 * the last cause.
 */
export interface RetryPolicy {
  /**
   * Attempts in all, the first included. A handler's invocation whose attempts run out is paused
   * (see `onMaxAttempts`); a step's (`ctx.run`) fails with a `TerminalError` the handler can catch.
   * @default 30 for handlers (about four minutes of retrying with the default intervals), Infinity for steps
   */
  maxAttempts?: number;
  /** Delay before the first retry. @default 100 */
  initialIntervalMs?: number;
  /** Upper bound of the delay. @default 10000 */
  maxIntervalMs?: number;
  /** Growth of the delay per attempt. @default 2 */
  backoffCoefficient?: number;
  /** Names of error classes (`error.name`) that fail at once instead of being retried. */
  nonRetryableErrors?: string[];
  /**
   * What an invocation whose attempts ran out does: `"pause"` holds its key, shows as `paused` with
   * its last error and waits for an operator's `resume` (after a fix is deployed) or `kill`
   * (Restate's default); `"fail"` ends it with a `TerminalError` carrying the last cause. Steps always
   * fail. @default "pause"
   */
  onMaxAttempts?: "pause" | "fail";
}

/** Options of one handler. */
export interface HandlerOptions<S extends z.ZodType = z.ZodType> {
  /** Validates the input at the host; a failure is a `TerminalError` naming the handler and the problem. */
  input?: S;
  /** Validates the result at the host before it is committed. */
  output?: z.ZodType;
  /** Overrides the host's default retry policy for this handler. */
  retryPolicy?: RetryPolicy;
  /**
   * An attempt still running after this long fails and is retried under the retry policy. The late
   * attempt cannot be stopped: whatever it then does through `ctx` is discarded, but its effects
   * outside Cairn may still happen. @default no limit
   */
  timeoutMs?: number;
}

declare const handlerTypes: unique symbol;

type ContextOf<K extends HandlerKind> = K extends "exclusive"
  ? ObjectContext
  : K extends "shared"
    ? ObjectSharedContext
    : Context;

/** A handler with its kind and options; `I` and `O` are its input and result types. */
export interface HandlerDefinition<K extends HandlerKind, I, O> {
  readonly kind: K;
  readonly options: HandlerOptions;
  readonly fn: (ctx: ContextOf<K>, input: unknown) => unknown;
  /** Carries the types only; never set at run time. */
  readonly [handlerTypes]?: (input: I) => O;
}

/** A bare function in an object's `handlers` is an exclusive handler. */
export type BareObjectHandler = (ctx: ObjectContext, input: never) => unknown;
export type BareServiceHandler = (ctx: Context, input: never) => unknown;

export type ObjectHandlerEntry =
  | HandlerDefinition<"exclusive", never, unknown>
  | HandlerDefinition<"shared", never, unknown>
  | BareObjectHandler;
export type ServiceHandlerEntry = HandlerDefinition<"service", never, unknown> | BareServiceHandler;

/** A keyed virtual object: each key owns a private state; exclusive handlers of one key run one at a time. */
export interface ObjectDefinition<N extends string = string, H extends Record<string, ObjectHandlerEntry> = Record<string, ObjectHandlerEntry>> {
  readonly type: "object";
  readonly name: N;
  readonly handlers: H;
}

/** A keyless service: invocations run in parallel and have no state. */
export interface ServiceDefinition<N extends string = string, H extends Record<string, ServiceHandlerEntry> = Record<string, ServiceHandlerEntry>> {
  readonly type: "service";
  readonly name: N;
  readonly handlers: H;
}

/**
 * A workflow's handler: `run` takes a `WorkflowContext`; the others are shared and take a
 * `WorkflowSharedContext` (a function taking the narrower context fits here too).
 */
export type WorkflowHandler = (ctx: WorkflowContext, input: never) => unknown;

/**
 * A workflow: a keyed object whose `run` handler runs exactly once per key (a second `run` of the
 * key gets the first one's result), and whose other handlers are shared: they read its state and
 * resolve its durable promises (signals) while `run` goes on.
 */
export interface WorkflowDefinition<N extends string = string, H extends { run: WorkflowHandler } & Record<string, WorkflowHandler> = { run: WorkflowHandler } & Record<string, WorkflowHandler>> {
  readonly type: "workflow";
  readonly name: N;
  readonly handlers: H;
}

/** Any object, service or workflow definition: what `startHost({ services })` takes. */
export type AnyDefinition = ObjectDefinition | ServiceDefinition | WorkflowDefinition;

/** The input type of a handler entry (`void` when it takes none). */
export type InputOf<H> = H extends { readonly [handlerTypes]?: (input: infer I) => unknown }
  ? I
  : H extends (ctx: never, ...args: infer A) => unknown
    ? A extends [] ? void : A[0]
    : never;

/** The result type of a handler entry. */
export type OutputOf<H> = H extends { readonly [handlerTypes]?: (input: never) => infer O }
  ? Awaited<O>
  : H extends (...args: never[]) => infer R
    ? Awaited<R>
    : never;

// Names are part of LMDB keys and NATS headers: short, plain.
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

function checkName(what: string, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new TypeError(`${what} name "${name}" must start with a letter and hold only letters, digits and _ (128 at most)`);
  }
}

/** Checks names and handler kinds of an object or a service definition, at definition time. */
function checkDefinition(type: "object" | "service" | "workflow", definition: { name: string; handlers: Record<string, unknown> }): void {
  const owner = definition.name;
  checkName(type === "object" ? "Object" : type === "service" ? "Service" : "Workflow", owner);
  if (type === "workflow") {
    if (typeof definition.handlers.run !== "function") throw new TypeError(`${owner} needs a run handler: the function that runs once per key`);
    for (const [name, entry] of Object.entries(definition.handlers)) {
      checkName(`${owner} handler`, name);
      if (typeof entry !== "function") throw new TypeError(`${owner}.${name} must be a function (a workflow's handlers take no options)`);
    }
    return;
  }
  if (Object.keys(definition.handlers).length === 0) throw new TypeError(`${owner} has no handlers`);
  for (const [name, entry] of Object.entries(definition.handlers)) {
    checkName(`${owner} handler`, name);
    if (typeof entry !== "function" && !isHandlerDefinition(entry)) {
      throw new TypeError(`${owner}.${name} must be a function or made with handlers.*`);
    }
    if (isHandlerDefinition(entry) && (entry.kind === "service") !== (type === "service")) {
      throw new TypeError(
        type === "object"
          ? `${owner}.${name}: handlers.handler is for services; use handlers.object.*`
          : `${owner}.${name}: handlers.object.* is for objects; use handlers.handler`,
      );
    }
  }
}

/**
 * Defines a keyed virtual object.
 *
 * @example
 * // examples/counter.ts
 * export const counter = object({
 *   name: "Counter",
 *   handlers: {
 *     add: async (ctx: ObjectContext, amount: number) => {
 *       const total = ((await ctx.get<number>("total")) ?? 0) + amount;
 *       ctx.set("total", total);
 *       ctx.objectSendClient(mirror, ctx.key).add(amount);
 *       return total;
 *     },
 *     total: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("total")) ?? 0),
 *   },
 * });
 */
export function object<N extends string, H extends Record<string, ObjectHandlerEntry>>(definition: {
  name: N;
  handlers: H;
}): ObjectDefinition<N, H> {
  checkDefinition("object", definition);
  return Object.freeze({ type: "object", name: definition.name, handlers: definition.handlers });
}

/**
 * Defines a keyless service.
 *
 * @example
 * // examples/shopping-cart.ts
 * export const orderService = service({
 *   name: "OrderService",
 *   handlers: {
 *     fulfill: async (ctx: Context, orderId: string) => {
 *       ctx.log.info({ orderId }, "shipping order");
 *       shipped.push(orderId);
 *     },
 *   },
 * });
 */
export function service<N extends string, H extends Record<string, ServiceHandlerEntry>>(definition: {
  name: N;
  handlers: H;
}): ServiceDefinition<N, H> {
  checkDefinition("service", definition);
  return Object.freeze({ type: "service", name: definition.name, handlers: definition.handlers });
}

/**
 * Defines a workflow: `run` runs once per key and may sleep, call and wait for signals for as long as
 * it takes; the other handlers are shared and see its state.
 *
 * @example
 * export const subscription = workflow({
 *   name: "SubscriptionLifecycle",
 *   handlers: {
 *     run: async (ctx: WorkflowContext, plan: string) => { ... },
 *     cancel: async (ctx: WorkflowSharedContext) => ctx.promise<string>("cancelled").resolve("user"),
 *     status: async (ctx: WorkflowSharedContext) => ctx.get<string>("status"),
 *   },
 * });
 */
export function workflow<N extends string, H extends { run: WorkflowHandler } & Record<string, WorkflowHandler>>(definition: {
  name: N;
  handlers: H;
}): WorkflowDefinition<N, H> {
  checkDefinition("workflow", definition);
  return Object.freeze({ type: "workflow", name: definition.name, handlers: definition.handlers });
}

function define<K extends HandlerKind>(kind: K, options: HandlerOptions, fn: (ctx: never, input: never) => unknown) {
  return Object.freeze({ kind, options, fn: fn as (ctx: ContextOf<K>, input: unknown) => unknown });
}

type Fn<C, I, O> = (ctx: C, input: I) => O;

/** Builds one kind of handler: `(opts, fn)` or `(fn)`. */
interface HandlerFactory<K extends HandlerKind, C> {
  <S extends z.ZodType, O>(options: HandlerOptions<S> & { input: S }, fn: Fn<C, z.output<S>, O>): HandlerDefinition<K, z.input<S>, Awaited<O>>;
  <I = void, O = unknown>(options: HandlerOptions, fn: Fn<C, I, O>): HandlerDefinition<K, I, Awaited<O>>;
  <I = void, O = unknown>(fn: Fn<C, I, O>): HandlerDefinition<K, I, Awaited<O>>;
}

function factory<K extends HandlerKind, C>(kind: K): HandlerFactory<K, C> {
  return ((a: HandlerOptions | Fn<never, never, unknown>, b?: Fn<never, never, unknown>) =>
    typeof a === "function" ? define(kind, {}, a) : define(kind, a, b as Fn<never, never, unknown>)) as HandlerFactory<K, C>;
}

/**
 * Handler builders, for when a handler needs options (an input schema, a retry policy) or a
 * non-default kind. A bare function in an object is an exclusive handler; in a service, a handler.
 *
 * @example
 * // examples/shopping-cart.ts
 * addItem: handlers.object.exclusive({ input: CartItem }, async (ctx: ObjectContext, item) => {
 *   const items = (await ctx.get<CartItem[]>("items")) ?? [];
 *   items.push(item);
 *   ctx.set("items", items);
 *   return { itemCount: items.length };
 * }),
 */
export const handlers = {
  object: {
    /** One at a time per key, in arrival order; may write state. */
    exclusive: factory<"exclusive", ObjectContext>("exclusive"),
    /** Concurrent, read-only; sees the last committed state. */
    shared: factory<"shared", ObjectSharedContext>("shared"),
  },
  /** A service handler. */
  handler: factory<"service", Context>("service"),
};

export function isHandlerDefinition(value: unknown): value is HandlerDefinition<HandlerKind, unknown, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    "kind" in value &&
    "fn" in value &&
    typeof (value as { fn: unknown }).fn === "function"
  );
}
