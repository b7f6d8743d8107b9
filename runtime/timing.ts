import { setTimeout as sleep } from "node:timers/promises";
import { DeadlineExceededError } from "./errors.js";
import { type ResolvedRetryPolicy, backoffMs } from "./invoke/index.js";

/** Resolves when `work` settles or `ms` have passed, whichever comes first: with whether it settled. */
export async function withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/**
 * `work`'s result, or a `DeadlineExceededError` after `ms`: for the NATS client's operations that
 * have no timeout of their own (object store listings and reads), which must not hold a partition.
 */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How the runtime retries its own failures (not handlers'): 100 ms, doubling, at most 5 s, forever. */
export const INTERNAL_RETRY: ResolvedRetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialIntervalMs: 100,
  maxIntervalMs: 5000,
  backoffCoefficient: 2,
  nonRetryableErrors: [],
  onMaxAttempts: "fail",
};

/**
 * Runs `work` until it succeeds, backing off between failures (INTERNAL_RETRY). Returns
 * `{ value }`, or `undefined` once `signal` aborts while waiting.
 */
export async function retryUntilAborted<T>(
  work: () => Promise<T>,
  signal: AbortSignal,
  onFailure: (error: unknown, attempt: number, retryInMs: number) => void,
): Promise<{ value: T } | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await work() };
    } catch (error) {
      const delayMs = backoffMs(INTERNAL_RETRY, attempt);
      onFailure(error, attempt, delayMs);
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return undefined;
      }
    }
  }
}
