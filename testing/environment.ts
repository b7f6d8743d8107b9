import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { CairnClient } from "../sdk/client/index.js";
import { type Host, type HostOptions, startHostWith } from "../runtime/internal.js";
import { TestClock } from "./test-clock.js";

/** How far `advanceTime` moves the clock; the parts add up. */
export interface Duration {
  ms?: number;
  seconds?: number;
  minutes?: number;
  hours?: number;
  days?: number;
}

const DurationSchema = z
  .object({ ms: z.number(), seconds: z.number(), minutes: z.number(), hours: z.number(), days: z.number() })
  .partial()
  .strict()
  .refine((d) => Object.values(d).every((v) => Number.isFinite(v) && v >= 0), "every part must be a finite number, 0 or more");

function toMs(duration: Duration): number {
  const parsed = DurationSchema.safeParse(duration);
  if (!parsed.success) throw new TypeError(`advanceTime: invalid duration ${JSON.stringify(duration)}: ${z.prettifyError(parsed.error)}`);
  const { ms = 0, seconds = 0, minutes = 0, hours = 0, days = 0 } = parsed.data;
  return Math.round(ms + 1000 * (seconds + 60 * (minutes + 60 * (hours + 24 * days))));
}

/** Options of {@link createTestEnvironment}: a host's, without `nats` (always embedded), `dataDir` optional. */
export type TestEnvironmentOptions = Omit<HostOptions, "nats" | "dataDir"> & {
  /** Kept after `close()` when given; else a temporary directory, removed by `close()`. */
  dataDir?: string;
  /** Where the test clock starts. @default the real time when the environment is created */
  startTimeMs?: number;
};

export interface TestEnvironment {
  /** A client bound to the environment's host. */
  readonly client: CairnClient;
  /** The embedded host underneath. */
  readonly host: Host;
  /** The test clock every timer of the host reads. */
  readonly clock: TestClock;
  /** The test clock's time, in ms since the epoch. */
  now(): number;
  /**
   * Moves the test clock forward, firing every timer due on the way in due order, and waiting after
   * each for the work it causes to settle. Resolves when the host is idle at the new time.
   */
  advanceTime(duration: Duration): Promise<void>;
  /** Closes the host, and removes the data dir unless it was given. */
  close(): Promise<void>;
}

/**
 * An embedded host on a test clock: time moves only when the test moves it, so that a 30-day sleep
 * or delayed send is tested in milliseconds.
 *
 * @example
 * const env = await createTestEnvironment({ services: [shoppingCart] });
 * await env.client.objectSendClient(shoppingCart, "u", { delayMs: 86_400_000 }).checkout();
 * await env.advanceTime({ days: 1 });
 * await env.close();
 */
export async function createTestEnvironment(options: TestEnvironmentOptions): Promise<TestEnvironment> {
  const { dataDir: given, startTimeMs, ...hostOptions } = options;
  const dataDir = given ?? mkdtempSync(join(tmpdir(), "cairn-test-env-"));
  const clock = new TestClock(startTimeMs ?? Date.now());
  let host: Awaited<ReturnType<typeof startHostWith>>;
  try {
    host = await startHostWith({ logLevel: "warn", ...hostOptions, dataDir }, { clock });
  } catch (error) {
    if (!given) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let moving = Promise.resolve();
  const advance = async (ms: number) => {
    const target = clock.now() + ms;
    await host.idle();
    // One due time at a time: the work a timer causes may set earlier timers than the next one.
    for (let next = clock.next(); next <= target; next = clock.next()) {
      clock.moveTo(next);
      await host.idle();
    }
    clock.moveTo(target);
    await host.idle();
  };
  let closed = false;
  return {
    client: host.client,
    host,
    clock,
    now: () => clock.now(),
    advanceTime: (duration) => {
      const ms = toMs(duration);
      // Calls overlapping in time would move the clock under each other: they run one after another.
      const run = moving.then(() => advance(ms));
      moving = run.catch(() => undefined);
      return run;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await host.close();
      if (!given) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
