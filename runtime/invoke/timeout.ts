import { AttemptTimeoutError } from "../errors.js";

/** `work`, or an `AttemptTimeoutError` once `timeoutMs` have passed first (no limit when undefined). */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number | undefined, label: string): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeoutError(`${label}: the attempt ran past its timeoutMs of ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
