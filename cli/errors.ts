// What the CLI and the scripts share at their edge: the error classes that carry an exit code, and
// the one line printed for any error.
import { ConfigError, JetStreamUnavailableError } from "../runtime/index.js";
import { TerminalError } from "../sdk/index.js";
import { NatsServerMissingError } from "./nats-binary.js";

/** What `cairn` exits with; documented in `cairn --help` and docs/architecture.md ("The cairn CLI"). */
export const ExitCode = {
  Ok: 0,
  /** The call, the handler or the command failed. */
  Failed: 1,
  /** The command line does not parse. */
  Usage: 2,
  /** No host, admin endpoint or NATS server answers where the command was pointed. */
  Unreachable: 3,
  /** The target, invocation or key is not there. */
  NotFound: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line does not parse; exit code 2, with a pointer to the usage. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A command cannot go on: the message says why and what to do, and is printed as it is. */
export class ScriptError extends Error {
  override name = "ScriptError";
}

/** Nothing answers where the command was pointed (a host's ingress, an admin endpoint, a NATS server). */
export class UnreachableError extends ScriptError {
  override name = "UnreachableError";
}

/** What the command names is not there (an admin endpoint's or the ingress's 404). */
export class NotFoundError extends ScriptError {
  override name = "NotFoundError";
}

/**
 * The one line printed for an error before exiting non-zero: the message alone for errors that
 * explain themselves, the class name too for the rest, never a stack trace.
 */
export function describeError(error: unknown): string {
  if (error instanceof ScriptError || error instanceof UsageError || error instanceof NatsServerMissingError) return error.message;
  if (error instanceof TerminalError) return `${error.name} ${error.errorCode}: ${error.message}`;
  if (error instanceof ConfigError || error instanceof JetStreamUnavailableError) return `${error.name}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The exit code an error means. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof UnreachableError) return ExitCode.Unreachable;
  if (error instanceof NotFoundError) return ExitCode.NotFound;
  if (error instanceof TerminalError && error.errorCode === 404) return ExitCode.NotFound;
  return ExitCode.Failed;
}

/** Prints `error` as one line on stderr (and `hint` after a usage error) and exits with its code. */
export function exitOnError(error: unknown, hint?: string): never {
  console.error(describeError(error));
  if (error instanceof UsageError && hint) console.error(hint);
  process.exit(exitCodeOf(error));
}
