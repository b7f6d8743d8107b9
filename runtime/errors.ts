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
 * A changelog entry or snapshot of a partition does not decode as one a host wrote. Only that
 * partition stops (its take-over fails and is retried with backoff) until an operator repairs it:
 * see "Corrupt changelog entries and snapshots" in docs/architecture.md.
 */
export class CorruptPartitionDataError extends Error {
  override name = "CorruptPartitionDataError";
  constructor(
    message: string,
    readonly partition: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
