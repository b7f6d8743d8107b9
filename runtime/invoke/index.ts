export type { ResolvedHandler, ServedService } from "./registry.js";
export { Registry } from "./registry.js";
export type { InvokeOptions, InvocationResult } from "./invoker.js";
export { invoke, DURABLE_BACKOFF_MS } from "./invoker.js";
export type { EncodedEffects, EncodedSend, InvocationScope, Progress } from "./context.js";
export type { ResolvedRetryPolicy } from "./retry.js";
export { DEFAULT_RETRY_POLICY, resolveRetryPolicy, backoffMs } from "./retry.js";
export type { FailureAction } from "./classify.js";
export { classifyFailure, terminalOutcome } from "./classify.js";
