/** Host options that do not parse; the message lists every problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The host was closed while an operation waited. */
export class HostClosedError extends Error {
  override name = "HostClosedError";
}

/** An attempt ran past its handler's `timeoutMs`; retried like any transient failure. */
export class AttemptTimeoutError extends Error {
  override name = "AttemptTimeoutError";
}

/**
 * A string the LMDB key encoding cannot keep apart from others (a lone surrogate has no UTF-8 form),
 * or bytes it did not produce: a bug or a forged changelog entry upstream, never retried into LMDB.
 */
export class StateKeyError extends Error {
  override name = "StateKeyError";
}
