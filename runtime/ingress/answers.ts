import { CallTimeoutError, TerminalError } from "../../sdk/index.js";
import { targetLabel } from "../../sdk/internal.js";
import { HttpError } from "./http-error.js";
import type { Route } from "./routes.js";

/** What the ingress answers for a failed request; `unexpected` failures are logged with their cause. */
export interface ErrorAnswer {
  readonly status: number;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly unexpected: boolean;
}

/**
 * The one place that turns a failure into a status: the ingress's own refusals keep theirs, a
 * `TerminalError` (from the handler or the host's checks) its `errorCode` when that is an HTTP
 * error status, a call without an answer in time 504; anything else is the ingress's fault (500)
 * and its message, which may name internals, stays in the log.
 */
export function errorAnswer(error: unknown, route: Route | undefined): ErrorAnswer {
  if (error instanceof HttpError) return { status: error.status, message: error.message, headers: error.headers, unexpected: false };
  if (error instanceof TerminalError) {
    const status = error.errorCode >= 400 && error.errorCode <= 599 ? error.errorCode : 500;
    return { status, message: error.message, headers: {}, unexpected: false };
  }
  if (error instanceof CallTimeoutError) {
    const label = route ? targetLabel(route.target) : "the call";
    const message =
      `${label}: no result in time; the outcome is unknown (invocation ${error.invocationId}). ` +
      "A retry with the same idempotency-key header gets its one result; without that header a retry may run the handler again.";
    return { status: 504, message, headers: {}, unexpected: false };
  }
  return { status: 500, message: "internal error in the ingress; the host's log has the cause", headers: {}, unexpected: true };
}

/** JSON of a handler's result: `undefined` is `null`, and a bigint (which JSON lacks) its decimal digits. */
export function resultJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
