import { expect } from "vitest";
import { TerminalError } from "cairn";

/** Awaits a promise that must reject with a `TerminalError`, and returns that error. */
export async function terminalError(promise: Promise<unknown>): Promise<TerminalError> {
  const error = await promise.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TerminalError);
  return error as TerminalError;
}
