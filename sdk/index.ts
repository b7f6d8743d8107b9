export type { Context, ObjectContext, ObjectSharedContext, WorkflowContext, WorkflowSharedContext, DurablePromise, RunOptions, ContextRandom, ContextDate } from "./context.js";
export type {
  ObjectDefinition,
  ServiceDefinition,
  WorkflowDefinition,
  AnyDefinition,
  HandlerDefinition,
  HandlerOptions,
  RetryPolicy,
  InputOf,
  OutputOf,
} from "./definitions.js";
export { object, service, workflow, handlers, HandlerKind } from "./definitions.js";
export type { CallClient, SendClient, ContextSendClient, ContextCallClient, ContextCallOptions, CallOptions, SendOptions, SendClientOptions, SendReceipt } from "./client-types.js";
export { TerminalError, RetryableError, TimeoutError, CancelledError, CallTimeoutError } from "./errors.js";
