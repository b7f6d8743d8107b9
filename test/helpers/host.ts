import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CallTimeoutError, TerminalError } from "cairn";

/** A namespace no other test uses, so streams and subjects never collide. */
export function uniqueNamespace(prefix = "t"): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

/** A new empty directory, under the test run's temporary root when there is one (see global-setup.ts). */
export function tempDir(prefix = "cairn-data-"): string {
  return mkdtempSync(join(process.env.CAIRN_TEST_TMP ?? tmpdir(), prefix));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** A small seeded PRNG (mulberry32): crash tests replay the same kill schedule for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Calls until it succeeds, with the same idempotency key on every try, as a careful client would.
 * A `TerminalError` is an answer and ends it; `stats.retries` counts the tries that got none.
 */
export async function untilAcknowledged<T>(call: () => Promise<T>, stats: { retries: number } = { retries: 0 }): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TerminalError) throw error;
      if (!(error instanceof CallTimeoutError)) await sleep(100);
      stats.retries++;
    }
  }
}
