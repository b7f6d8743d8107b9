import type { RetryPolicy } from "../../sdk/index.js";

export type ResolvedRetryPolicy = Required<RetryPolicy>;

/** The host's defaults; documented on `HostOptions.retryPolicy`. */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialIntervalMs: 100,
  maxIntervalMs: 10_000,
  backoffCoefficient: 2,
  nonRetryableErrors: [],
};

export function resolveRetryPolicy(base: ResolvedRetryPolicy, override: RetryPolicy | undefined): ResolvedRetryPolicy {
  return { ...base, ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Delay before attempt `attempt + 1`, after `attempt` failed attempts (1-based). */
export function backoffMs(policy: ResolvedRetryPolicy, attempt: number): number {
  const delay = policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1);
  return Math.min(policy.maxIntervalMs, delay);
}
