// What the scripts share at their edge: a usage error, and one way to end on an error.
import { ConfigError, JetStreamUnavailableError } from "cairn/runtime";
import { TerminalError } from "cairn";
import { ScriptError } from "./local-nats.js";
import { NatsServerMissingError } from "./nats-binary.js";

/** The command line does not parse; exit code 2, with the usage. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * The one line a script prints for an error before it exits non-zero: the message alone for errors
 * that explain themselves, the class name too for the rest, never a stack trace.
 */
export function describeError(error: unknown): string {
  if (error instanceof ScriptError || error instanceof UsageError || error instanceof NatsServerMissingError) return error.message;
  if (error instanceof TerminalError) return `${error.name} ${error.errorCode}: ${error.message}`;
  if (error instanceof ConfigError || error instanceof JetStreamUnavailableError) return `${error.name}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Prints `error` as one line on stderr and exits: 2 for a usage error, 1 for anything else. */
export function exitOnError(error: unknown, usage?: string): never {
  console.error(describeError(error));
  if (error instanceof UsageError && usage) console.error(usage);
  process.exit(error instanceof UsageError ? 2 : 1);
}
