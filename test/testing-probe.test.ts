import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type ObjectContext, type ObjectSharedContext, handlers, object } from "cairn";
import { type TestEnvironment, createTestEnvironment } from "cairn/testing";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

let failuresLeft = 0;

const journal = object({
  name: "Journal",
  handlers: {
    record: async (ctx: ObjectContext, entry: string) => {
      const entries = (await ctx.get<string[]>("entries")) ?? [];
      ctx.set("entries", [...entries, entry]);
    },
    /** Records `step`, then schedules the next step an hour later, up to `last`. */
    chain: async (ctx: ObjectContext, input: { step: number; last: number }) => {
      const entries = (await ctx.get<string[]>("entries")) ?? [];
      ctx.set("entries", [...entries, `chain-${input.step}`]);
      if (input.step < input.last) ctx.objectSendClient(journal, ctx.key, { delayMs: HOUR_MS }).chain({ step: input.step + 1, last: input.last });
    },
    renew: async (ctx: ObjectContext, cycle: number) => {
      ctx.set("cycles", cycle);
      ctx.objectSendClient(journal, ctx.key, { delayMs: 30 * DAY_MS }).renew(cycle + 1);
    },
    flaky: handlers.object.exclusive({ retryPolicy: { initialIntervalMs: 60_000, maxAttempts: 3, onMaxAttempts: "fail" } }, async (ctx: ObjectContext) => {
      if (failuresLeft-- > 0) throw new Error("not yet");
      ctx.set("entries", ["flaky-done"]);
    }),
    entries: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<string[]>("entries")) ?? []),
    cycles: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("cycles")) ?? 0),
  },
});

async function withEnv<T>(body: (env: TestEnvironment) => Promise<T>): Promise<T> {
  const env = await createTestEnvironment({ services: [journal] });
  try {
    return await body(env);
  } finally {
    await env.close();
  }
}

/** Resolves with "timeout" when `promise` takes longer than `ms` of real time. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  return Promise.race([promise, sleep(ms, "timeout" as const, { ref: false })]);
}

describe("cairn/testing under pressure", () => {
  it("fires, in the same advance and in due order, timers set by the work of earlier timers", async () => {
    await withEnv(async (env) => {
      await env.client.objectSendClient(journal, "j", { delayMs: 10 * HOUR_MS }).record("ten-hours");
      await env.client.objectSendClient(journal, "j", { delayMs: 30 * 60 * 1000 }).chain({ step: 0, last: 4 });
      await env.advanceTime({ days: 1 });
      expect(await env.client.objectClient(journal, "j").entries()).toEqual(["chain-0", "chain-1", "chain-2", "chain-3", "chain-4", "ten-hours"]);
    });
  });

  it("runs overlapping advanceTime calls one after another, adding up", async () => {
    await withEnv(async (env) => {
      const start = env.now();
      await env.client.objectSendClient(journal, "o", { delayMs: 1.5 * HOUR_MS }).record("ninety-minutes");
      const moves = [env.advanceTime({ hours: 1 }), env.advanceTime({ hours: 1 })];
      await Promise.all(moves);
      expect(env.now() - start).toBe(2 * HOUR_MS);
      expect(await env.client.objectClient(journal, "o").entries()).toEqual(["ninety-minutes"]);
    });
  });

  it("runs ten years of 30-day renewals (122 cycles) in a few seconds", async () => {
    await withEnv(async (env) => {
      await env.client.objectClient(journal, "r").renew(0);
      const t0 = performance.now();
      await env.advanceTime({ days: 3650 });
      const tookMs = performance.now() - t0;
      console.log(`10 years of 30-day renewals: ${Math.round(tookMs)} ms`);
      expect(await env.client.objectClient(journal, "r").cycles()).toBe(121);
      expect(tookMs).toBeLessThan(10_000);
    });
  });

  it("close() while advanceTime runs finishes, and advanceTime settles (resolves or rejects) instead of hanging", async () => {
    const env = await createTestEnvironment({ services: [journal] });
    await env.client.objectClient(journal, "c").renew(0);
    const moving = env.advanceTime({ days: 365 * 100 }).then(
      () => "resolved",
      (error: unknown) => `rejected: ${String(error)}`,
    );
    await sleep(20);
    expect(await within(env.close(), 15_000)).not.toBe("timeout");
    const settled = await within(moving, 5_000);
    console.log(`advanceTime after close(): ${settled}`);
    expect(settled).not.toBe("timeout");
  });

  it("waits out a handler's retry backoff on the test clock, not in real time", async () => {
    await withEnv(async (env) => {
      failuresLeft = 1;
      await env.client.objectSendClient(journal, "f").flaky();
      const t0 = performance.now();
      const outcome = await within(env.advanceTime({ minutes: 2 }), 5_000);
      console.log(`advanceTime over a 60 s retry backoff: ${outcome === "timeout" ? "still waiting after 5 s of real time" : `${Math.round(performance.now() - t0)} ms`}`);
      expect(outcome).not.toBe("timeout");
      expect(await env.client.objectClient(journal, "f").entries()).toEqual(["flaky-done"]);
    });
  });
});
