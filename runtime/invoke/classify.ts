import { RetryableError, TerminalError } from "../../sdk/index.js";
import { describeThrown } from "../../sdk/internal.js";
import type { Outcome } from "../store/index.js";
import { type ResolvedRetryPolicy, backoffMs } from "./retry.js";

/** What the runtime does with a failed attempt. */
export type FailureAction =
  | { type: "retry"; delayMs: number }
  /** `exhausted`: the policy's attempts ran out (an invocation then pauses, unless its policy says fail). */
  | { type: "fail"; outcome: Outcome; exhausted?: true };

/** A terminal error's outcome; read safely, since a subclass may define throwing getters. */
export function terminalOutcome(error: TerminalError): Outcome {
  const { name, message } = describeThrown(error);
  return { ok: false, error: { name, message, code: errorCodeOf(error) } };
}

/**
 * The single place that decides between retrying and failing an invocation: `TerminalError`s and
 * listed non-retryable errors fail at once; anything else is retried with backoff until the
 * policy's attempts are used up. It never throws, whatever the handler threw: an error escaping
 * here would be retried outside the policy, forever.
 */
export function classifyFailure(error: unknown, attempt: number, policy: ResolvedRetryPolicy, label: string): FailureAction {
  if (isInstance(error, TerminalError)) return { type: "fail", outcome: terminalOutcome(error) };
  const { name, message } = describeThrown(error);
  if (policy.nonRetryableErrors.includes(name)) {
    return { type: "fail", outcome: terminalOutcome(new TerminalError(`${label}: ${name}: ${message}`, { cause: error })) };
  }
  if (attempt >= policy.maxAttempts) {
    const terminal = new TerminalError(`${label}: failed after ${attempt} attempts: ${name}: ${message}`, { cause: error });
    return { type: "fail", outcome: terminalOutcome(terminal), exhausted: true };
  }
  const requested = isInstance(error, RetryableError) ? retryAfterMsOf(error) : undefined;
  return { type: "retry", delayMs: requested ?? backoffMs(policy, attempt) };
}

// `instanceof` runs a Proxy's getPrototypeOf trap, which may throw.
export function isInstance<T>(value: unknown, type: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

function errorCodeOf(error: TerminalError): number {
  try {
    return Number.isInteger(error.errorCode) ? error.errorCode : 500;
  } catch {
    return 500;
  }
}

function retryAfterMsOf(error: RetryableError): number | undefined {
  try {
    const ms = error.retryAfterMs;
    return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}
