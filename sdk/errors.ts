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

/**
 * A terminal failure caused by cancellation: what the awaits of a cancelled invocation throw (once,
 * where it waits or at its next step, call, sleep or awakeable; catch it to compensate), and what the
 * caller of a cancelled or killed invocation gets. @default errorCode 409
 */
export class CancelledError extends TerminalError {
  override name = "CancelledError";

  constructor(message: string, options?: ErrorOptions & { errorCode?: number }) {
    super(message, { ...options, errorCode: options?.errorCode ?? 409 });
  }
}

/**
 * The error a failed outcome stands for, as a handler's await or a client's call receives it: the
 * same class where Cairn has one (a `CancelledError` stays one, so `instanceof` works), else a
 * `TerminalError` carrying the original name.
 */
export function outcomeError(error: { name: string; message: string; code: number }): TerminalError {
  const options = { errorCode: error.code };
  switch (error.name) {
    case "TimeoutError":
      return new TimeoutError(error.message, options);
    case "CancelledError":
      return new CancelledError(error.message, options);
    default: {
      const terminal = new TerminalError(error.message, options);
      if (error.name !== "TerminalError") Object.defineProperty(terminal, "name", { value: error.name });
      return terminal;
    }
  }
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
