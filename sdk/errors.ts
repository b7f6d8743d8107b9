/**
 * The error vocabulary shared by handlers, the runtime and the client. Each class states what the
 * runtime does when a handler throws it; any error that is not one of these is transient and retried.
 */

/**
 * A failure that is final: never retried, recorded as the invocation's result and delivered to the
 * caller as a `TerminalError` with the same message.
 *
 * @example
 * if (!items?.length) throw new TerminalError("Cart is empty");
 */
export class TerminalError extends Error {
  override name = "TerminalError";
  /** A machine-readable code, carried to the caller unchanged. @default 500 */
  readonly errorCode: number;

  constructor(message: string, options?: ErrorOptions & { errorCode?: number }) {
    super(message, options);
    this.errorCode = options?.errorCode ?? 500;
  }
}

/** A transient failure that asks to be retried no sooner than `retryAfterMs`. */
export class RetryableError extends Error {
  override name = "RetryableError";
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: ErrorOptions & { retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** A terminal failure caused by a deadline. */
export class TimeoutError extends TerminalError {
  override name = "TimeoutError";
}

/** A terminal failure caused by cancellation. */
export class CancelledError extends TerminalError {
  override name = "CancelledError";
}

/**
 * The client stopped waiting for a call's result: the invocation may or may not have run. Not
 * terminal: retrying the call with the same idempotency key runs the handler at most once and
 * returns its one result.
 */
export class CallTimeoutError extends Error {
  override name = "CallTimeoutError";
  readonly invocationId: string;

  constructor(message: string, options: ErrorOptions & { invocationId: string }) {
    super(message, options);
    this.invocationId = options.invocationId;
  }
}
