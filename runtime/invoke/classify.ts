import { RetryableError, TerminalError } from "../../sdk/index.js";
import type { Outcome } from "../store/index.js";
import { type ResolvedRetryPolicy, backoffMs } from "./retry.js";

/** What the runtime does with a failed attempt. */
export type FailureAction = { type: "retry"; delayMs: number } | { type: "fail"; outcome: Outcome };

export function terminalOutcome(error: TerminalError): Outcome {
  return { ok: false, error: { name: error.name, message: error.message, code: error.errorCode } };
}

/**
 * The single place that decides between retrying and failing an invocation: `TerminalError`s and
 * listed non-retryable errors fail at once; anything else is retried with backoff until the
 * policy's attempts are used up.
 */
export function classifyFailure(error: unknown, attempt: number, policy: ResolvedRetryPolicy, label: string): FailureAction {
  if (error instanceof TerminalError) return { type: "fail", outcome: terminalOutcome(error) };
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  if (policy.nonRetryableErrors.includes(name)) {
    return { type: "fail", outcome: terminalOutcome(new TerminalError(`${label}: ${name}: ${message}`, { cause: error })) };
  }
  if (attempt >= policy.maxAttempts) {
    const terminal = new TerminalError(`${label}: failed after ${attempt} attempts: ${name}: ${message}`, { cause: error });
    return { type: "fail", outcome: terminalOutcome(terminal) };
  }
  const requested = error instanceof RetryableError ? error.retryAfterMs : undefined;
  return { type: "retry", delayMs: requested ?? backoffMs(policy, attempt) };
}
