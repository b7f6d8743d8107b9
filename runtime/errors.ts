/** Host options that do not parse; the message lists every problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The host was closed while an operation waited. */
export class HostClosedError extends Error {
  override name = "HostClosedError";
}

/** A NATS operation without a timeout of its own did not finish in time; whoever waited tries again. */
export class DeadlineExceededError extends Error {
  override name = "DeadlineExceededError";
}

/** A record too large for the partition's commit log (a changelog entry over NATS's max_payload): no retry makes it fit. */
export class CommitTooLargeError extends Error {
  override name = "CommitTooLargeError";
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

/**
 * LMDB could not commit a write to the host's data dir (its disk is full, say). Transient: nothing
 * was written, and the same write is retried until it commits.
 */
export class StoreWriteError extends Error {
  override name = "StoreWriteError";
  readonly dataDir: string;
  /** Bytes still available to this process on the data dir's disk, when it could be measured. */
  readonly freeBytes: number | undefined;
  /** The disk holding the data dir has no room left (ENOSPC, or an I/O error with next to nothing free). */
  readonly diskFull: boolean;

  constructor(message: string, options: ErrorOptions & { dataDir: string; freeBytes: number | undefined; diskFull: boolean }) {
    super(message, options);
    this.dataDir = options.dataDir;
    this.freeBytes = options.freeBytes;
    this.diskFull = options.diskFull;
  }
}

/**
 * A changelog entry or snapshot of a partition does not decode as one a host wrote. Only that
 * partition stops (its take-over fails and is retried with backoff) until an operator repairs it:
 * see "Corrupt changelog entries and snapshots" in docs/architecture.md.
 */
export class CorruptPartitionDataError extends Error {
  override name = "CorruptPartitionDataError";
  readonly partition: number;

  constructor(message: string, options: ErrorOptions & { partition: number }) {
    super(message, options);
    this.partition = options.partition;
  }
}

/**
 * The NATS server the host connects to has no JetStream (started without `-js`, or the connecting
 * account has none): Cairn's inbox, changelogs and leases are JetStream streams, so it cannot run there.
 */
export class JetStreamUnavailableError extends Error {
  override name = "JetStreamUnavailableError";
}

/**
 * A replay found the handler doing something other than what its invocation's journal recorded at
 * that index: the code changed under a running invocation. Retried with backoff (never terminal),
 * so that deploying the code the invocation started with resumes it.
 */
export class JournalMismatchError extends Error {
  override name = "JournalMismatchError";
  readonly index: number;
  readonly invocationId: string;

  constructor(message: string, options: ErrorOptions & { index: number; invocationId: string }) {
    super(message, options);
    this.index = options.index;
    this.invocationId = options.invocationId;
  }
}

/** An operator killed the invocation: its attempt ends where it is (internal: never reaches a handler's catch). */
export class InvocationKilledError extends Error {
  override name = "InvocationKilledError";
}

/**
 * A step without a `maxAttempts` of its own ran out of the host's: the attempt fails with this, and
 * the invocation pauses (its policy's `onMaxAttempts`), so that a step that can never succeed shows
 * up to an operator instead of retrying inside its attempt forever.
 */
export class StepRetriesExhaustedError extends Error {
  override name = "StepRetriesExhaustedError";
}
