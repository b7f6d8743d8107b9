import { mkdtempSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type AnyDefinition, type ObjectContext, type ObjectSharedContext, handlers, object } from "cairn";
import { type TestEnvironment, createTestEnvironment } from "cairn/testing";
import { counter, mirror } from "../examples/counter.js";
import { tempDir } from "./helpers/host.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Entries in arrival order, and a renewal that re-sends itself every 30 days. */
const ledger = object({
  name: "Ledger",
  handlers: {
    record: async (ctx: ObjectContext, entry: string) => {
      const entries = (await ctx.get<string[]>("entries")) ?? [];
      entries.push(entry);
      ctx.set("entries", entries);
    },
    entries: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<string[]>("entries")) ?? []),
    renew: async (ctx: ObjectContext, cycle: number) => {
      const cycles = (await ctx.get<number[]>("cycles")) ?? [];
      cycles.push(cycle);
      ctx.set("cycles", cycles);
      ctx.objectSendClient(ledger, ctx.key, { delayMs: 30 * DAY_MS }).renew(cycle + 1);
    },
    cycles: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number[]>("cycles")) ?? []),
  },
});

async function withEnvironment<T>(options: { dataDir?: string; partitions?: number }, body: (env: TestEnvironment) => Promise<T>): Promise<T> {
  const env = await createTestEnvironment({ services: [ledger, counter, mirror], ...options });
  try {
    return await body(env);
  } finally {
    await env.close();
  }
}

describe("cairn/testing", () => {
  it("fires a 30-day delayed send after advanceTime({ days: 30 }) and not before, in well under a second", async () => {
    await withEnvironment({}, async (env) => {
      const started = performance.now();
      const book = env.client.objectClient(ledger, "monthly");
      await env.client.objectSendClient(ledger, "monthly", { delayMs: 30 * DAY_MS }).record("renewal");
      await env.client.objectSendClient(ledger, "idle", { delayMs: 100 }).record("due in 100 ms");
      await env.advanceTime({ days: 29 });
      expect(await book.entries()).toEqual([]);
      await env.advanceTime({ days: 1 });
      // No polling: advanceTime resolves once the fired work has settled.
      expect(await book.entries()).toEqual(["renewal"]);
      console.log(`30 days of test time: ${(performance.now() - started).toFixed(0)} ms of real time`);

      // Time moves only when the test moves it: the 100 ms send fired with the days above, and a new
      // one waits for advanceTime however long real time runs.
      expect(await env.client.objectClient(ledger, "idle").entries()).toEqual(["due in 100 ms"]);
      await env.client.objectSendClient(ledger, "idle", { delayMs: 100 }).record("after the advance");
      await sleep(300);
      expect(await env.client.objectClient(ledger, "idle").entries()).toEqual(["due in 100 ms"]);
      await env.advanceTime({ ms: 100 });
      expect(await env.client.objectClient(ledger, "idle").entries()).toEqual(["due in 100 ms", "after the advance"]);
    });
  });

  it("runs a handler that re-sends itself every 30 days 12 or 13 times in a year, in due order", async () => {
    await withEnvironment({}, async (env) => {
      const started = performance.now();
      await env.client.objectClient(ledger, "subscription").renew(0);
      await env.advanceTime({ days: 365 });
      const cycles = await env.client.objectClient(ledger, "subscription").cycles();
      console.log(`a year of 30-day renewals: ${cycles.length} runs in ${(performance.now() - started).toFixed(0)} ms of real time`);
      expect(cycles.length === 12 || cycles.length === 13, `ran ${cycles.length} times`).toBe(true);
      expect(cycles).toEqual(Array.from({ length: cycles.length }, (_, i) => i));
    });
  });

  it("fires due timers in due order and resolves advanceTime once the work they caused settled", async () => {
    await withEnvironment({}, async (env) => {
      for (const [entry, days] of [["third", 3], ["first", 1], ["second", 2]] as const) {
        await env.client.objectSendClient(ledger, "order", { delayMs: days * DAY_MS }).record(entry);
      }
      // Counter.add forwards to Mirror with a send of its own: that too must have run.
      await env.client.objectSendClient(counter, "chained", { delayMs: 2 * DAY_MS }).add(5);
      await env.advanceTime({ days: 3 });
      expect(await env.client.objectClient(ledger, "order").entries()).toEqual(["first", "second", "third"]);
      expect(await env.client.objectClient(counter, "chained").total()).toBe(5);
      expect(await env.client.objectClient(mirror, "chained").total()).toBe(5);
    });
  });

  it("keeps one clock wake-up per partition for thousands of pending timers, and fires them all in due order", async () => {
    await withEnvironment({ partitions: 4 }, async (env) => {
      const TIMERS = 2000;
      // Due in an order unlike the order they were sent in.
      const due = Array.from({ length: TIMERS }, (_, i) => ((i * 7919) % TIMERS) + 1);
      await Promise.all(due.map((minutes) => env.client.objectSendClient(ledger, "many", { delayMs: minutes * 60_000 }).record(String(minutes))));
      expect(env.clock.pending(), "wake-ups pending for 2000 timers on 4 partitions").toBeLessThanOrEqual(4);
      await env.advanceTime({ minutes: TIMERS });
      const entries = await env.client.objectClient(ledger, "many").entries();
      expect(entries).toEqual(Array.from({ length: TIMERS }, (_, i) => String(i + 1)));
      expect(env.clock.pending()).toBe(0);
    });
  });

  it("advanceTime waits for sends the test did not await, whose inbox rows are read only once written", async () => {
    const dataDir = tempDir();
    const keys = Array.from({ length: 8 }, (_, i) => `again-${i}`);
    await withEnvironment({ dataDir }, async (env) => {
      // Every partition handles (and deletes) a row: after the restart, its next row is read once written.
      await Promise.all(keys.map((key) => env.client.objectClient(ledger, key).entries()));
    });
    await withEnvironment({ dataDir }, async (env) => {
      // Not awaited, as API.md's example does: advanceTime must see them accepted before it moves the clock.
      const sent = keys.map((key) => env.client.objectSendClient(ledger, key, { delayMs: 1000 }).record("one second later"));
      await env.advanceTime({ seconds: 2 });
      await Promise.all(sent);
      const fired = await Promise.all(keys.map((key) => env.client.objectClient(ledger, key).entries()));
      expect(keys.filter((_, i) => fired[i]?.length !== 1), "sends that had not fired").toEqual([]);
    });
  });

  it("close() removes the temporary data dir it made, and keeps one that was given", async () => {
    const given = tempDir();
    await withEnvironment({ dataDir: given }, async (env) => {
      await env.client.objectClient(ledger, "kept").record("x");
    });
    expect(readdirSync(given).length, "the given data dir was emptied").toBeGreaterThan(0);

    // The environment makes its own dir under os.tmpdir(), which reads TMPDIR: point it at a fresh one.
    const root = mkdtempSync(join(tmpdir(), "cairn-testing-tmp-"));
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = root;
      let env: TestEnvironment;
    try {
      env = await createTestEnvironment({ services: [ledger] });
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
    expect(readdirSync(root).length, "the environment made no data dir under os.tmpdir()").toBe(1);
    await env.client.objectClient(ledger, "temp").record("x");
    await env.close();
    expect(readdirSync(root)).toEqual([]);
    expect(existsSync(root)).toBe(true);
  });
});
