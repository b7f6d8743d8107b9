import type { RetryPolicy } from "../../sdk/index.js";

export type ResolvedRetryPolicy = Required<RetryPolicy>;

/**
 * The host's defaults; documented on `HostOptions.retryPolicy` and `RetryPolicy`. Bounded: 30
 * attempts are about four minutes of retrying (100 ms doubling to 10 s), long enough to ride out a
 * restart of a dependency, short enough that a bug shows up as a paused invocation within minutes.
 */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = {
  maxAttempts: 30,
  initialIntervalMs: 100,
  maxIntervalMs: 10_000,
  backoffCoefficient: 2,
  nonRetryableErrors: [],
  onMaxAttempts: "pause",
};

export function resolveRetryPolicy(base: ResolvedRetryPolicy, override: RetryPolicy | undefined): ResolvedRetryPolicy {
  return { ...base, ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Delay before attempt `attempt + 1`, after `attempt` failed attempts (1-based). */
export function backoffMs(policy: ResolvedRetryPolicy, attempt: number): number {
  const delay = policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1);
  return Math.min(policy.maxIntervalMs, delay);
}
