/** JetStream reports a missing stream, consumer or message ("not found", "no message found"). */
export function isNotFound(error: unknown): boolean {
  return /not found|no message found/i.test(String(error));
}

/** A write conditioned on the last sequence lost the race: someone else wrote since. */
export function isWrongLastSequence(error: unknown): boolean {
  return /wrong last sequence/i.test(String(error));
}

/**
 * JetStream refused a consumer because another one already reads the same work-queue subject
 * (err_code 10099 "filtered consumer not unique on workqueue stream", 10100 for unfiltered ones).
 */
export function isConsumerInTheWay(error: unknown): boolean {
  const code = (error as { api_error?: { err_code?: unknown } } | null)?.api_error?.err_code;
  return code === 10099 || code === 10100 || /not unique on workqueue|multiple non-filtered consumers/i.test(String(error));
}
