/** JetStream reports a missing stream, consumer or message ("not found", "no message found"). */
export function isNotFound(error: unknown): boolean {
  return /not found|no message found/i.test(String(error));
}

/** A write conditioned on the last sequence lost the race: someone else wrote since. */
export function isWrongLastSequence(error: unknown): boolean {
  return /wrong last sequence/i.test(String(error));
}
