import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ObjectContext, object } from "cairn";
import { connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { createTestEnvironment } from "cairn/testing";
import type { InternalHost } from "../runtime/internal.js";
import { type HistoryEntry, Store } from "../runtime/store/index.js";
import { historyView } from "../runtime/admin/index.js";
import { idempotentInvocationId, partitionOf } from "../sdk/internal.js";
import { approval } from "./fixtures/workflows.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { modes, useMode } from "./helpers/modes.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { counter, mirror } from "../examples/counter.js";
import { orderService, shoppingCart } from "../examples/shopping-cart.js";
import { blob } from "./fixtures/blob.js";
import { probe } from "./fixtures/probe.js";

const PARTITIONS = 4;

const ledger = object({
  name: "Ledger",
  handlers: {
    set: async (ctx: ObjectContext, input: { name: string; value: unknown }) => ctx.set(input.name, input.value),
    clear: async (ctx: ObjectContext, name: string) => ctx.clear(name),
    clearAll: async (ctx: ObjectContext) => ctx.clearAll(),
    /** Writes around a step: the step's suspension point commits the first write (a progress record), the completion the second. */
    aroundStep: async (ctx: ObjectContext) => {
      ctx.set("before", 1);
      await ctx.run("step", () => "done");
      ctx.set("after", 2);
    },
  },
});

/** A key's history as its data dir holds it, decoded as the admin API shows it; the host must be closed. */
async function historyOf(dataDir: string, mode: "embedded" | "nats", object: string, key: string): Promise<ReturnType<typeof historyView>[]> {
  const store = new Store(dataDir, mode === "embedded" ? { sync: true, routing: "inbox" } : {});
  try {
    return store.readHistory(partitionOf(object, key, PARTITIONS), object, key, 1000).map(historyView);
  } finally {
    await store.close();
  }
}

/** The raw entries of every key named, from a closed host's data dir. */
async function rawHistories(dataDir: string, keys: ReadonlyArray<[object: string, key: string]>): Promise<HistoryEntry[][]> {
  const store = new Store(dataDir);
  try {
    return keys.map(([object, key]) => store.readHistory(partitionOf(object, key, PARTITIONS), object, key, 1000));
  } finally {
    await store.close();
  }
}

const changes = (entries: ReturnType<typeof historyView>[]) => entries.map((e) => [e.handler, e.changes]);

describe.each(modes)("state history: $label", (mode) => {
  const ctx = useMode(mode);

  it("records set, clear and clearAll of an exclusive handler, newest first, with the invocation id, handler and time of each commit", async () => {
    const h = await ctx.start({ services: [ledger], host: { partitions: PARTITIONS, historyEntriesPerKey: 100 } });
    const from = Date.now();
    const calls: Array<[handler: "set" | "clear" | "clearAll", input: unknown]> = [
      ["set", { name: "a", value: { n: 1 } }],
      ["set", { name: "b", value: "x" }],
      ["set", { name: "a", value: { n: 2 } }],
      ["clear", "b"],
      ["clear", "never-set"],
      ["set", { name: "c", value: [1] }],
      ["clearAll", undefined],
    ];
    for (const [i, [handler, input]] of calls.entries()) {
      const client = h.client.objectClient(ledger, "k");
      const options = { idempotencyKey: `c${i}` };
      if (handler === "set") await client.set(input as { name: string; value: unknown }, options);
      else if (handler === "clear") await client.clear(input as string, options);
      else await client.clearAll(undefined, options);
    }
    await h.close();
    const to = Date.now();
    const history = await historyOf(h.dataDir, mode.name, "Ledger", "k");
    expect(changes(history)).toEqual([
      ["Ledger.clearAll", [{ name: "a", before: { n: 2 } }, { name: "c", before: [1] }]],
      ["Ledger.set", [{ name: "c", after: [1] }]],
      ["Ledger.clear", [{ name: "b", before: "x" }]],
      ["Ledger.set", [{ name: "a", before: { n: 1 }, after: { n: 2 } }]],
      ["Ledger.set", [{ name: "b", after: "x" }]],
      ["Ledger.set", [{ name: "a", after: { n: 1 } }]],
    ]);
    // The clear of an entry that never existed changed nothing, and made no entry.
    const ids = [6, 5, 3, 2, 1, 0].map((i) => idempotentInvocationId(`Ledger/k/${calls[i]?.[0]}`, `c${i}`));
    expect(history.map((e) => e.invocationId)).toEqual(ids);
    const times = history.map((e) => e.atMs);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    for (const at of times) {
      expect(at).toBeGreaterThanOrEqual(from);
      expect(at).toBeLessThanOrEqual(to);
    }
  });

  it("a durable step commits the writes made before it (a progress record) as an entry of its own, the completion those after", async () => {
    const h = await ctx.start({ services: [ledger], host: { partitions: PARTITIONS, historyEntriesPerKey: 100 } });
    await h.client.objectClient(ledger, "s").aroundStep(undefined, { idempotencyKey: "one" });
    await h.close();
    const history = await historyOf(h.dataDir, mode.name, "Ledger", "s");
    expect(changes(history)).toEqual([
      ["Ledger.aroundStep", [{ name: "after", after: 2 }]],
      ["Ledger.aroundStep", [{ name: "before", after: 1 }]],
    ]);
    expect(new Set(history.map((e) => e.invocationId))).toEqual(new Set([idempotentInvocationId("Ledger/s/aroundStep", "one")]));
  });

  it("records a workflow run's writes, before its promise and after it", async () => {
    const h = await ctx.start({ services: [approval], host: { partitions: PARTITIONS, historyEntriesPerKey: 100 } });
    const wf = h.client.workflowClient(approval, "w1");
    const done = wf.run("order-1");
    expect(await eventually(async () => (await wf.status()) === "waiting", 10_000)).toBe(true);
    await wf.decide("approved");
    expect(await done).toBe("order-1:approved");
    await h.close();
    expect(changes(await historyOf(h.dataDir, mode.name, "Approval", "w1"))).toEqual([
      ["Approval.run", [{ name: "status", before: "waiting", after: "approved" }]],
      ["Approval.run", [{ name: "status", after: "waiting" }]],
    ]);
  });

  it("keeps only the newest historyEntriesPerKey entries of a key", async () => {
    const h = await ctx.start({ services: [ledger], host: { partitions: PARTITIONS, historyEntriesPerKey: 3 } });
    for (let i = 1; i <= 6; i++) await h.client.objectClient(ledger, "b").set({ name: "n", value: i });
    await h.close();
    expect(changes(await historyOf(h.dataDir, mode.name, "Ledger", "b"))).toEqual([6, 5, 4].map((n) => ["Ledger.set", [{ name: "n", before: n - 1, after: n }]]));
  });
});

describe("state history retention, on the test clock", () => {
  it("drops entries past historyRetentionMs when their key is written again, and the sweep drops those of every other key", async () => {
    const dataDir = tempDir();
    const env = await createTestEnvironment({ services: [ledger], dataDir, partitions: PARTITIONS, historyRetentionMs: 60 * 60 * 1000, historyEntriesPerKey: 100 });
    const t0 = env.now();
    try {
      await env.client.objectClient(ledger, "written").set({ name: "n", value: 1 });
      await env.client.objectClient(ledger, "idle").set({ name: "n", value: 1 });
      await env.advanceTime({ minutes: 30 });
      await env.client.objectClient(ledger, "idle").set({ name: "n", value: 2 });
      await env.advanceTime({ minutes: 31 });
      // 61 minutes after the first writes: this write drops its key's first entry.
      await env.client.objectClient(ledger, "written").set({ name: "n", value: 2 });
      // The sweep the host runs every minute, run now at the test clock's time: "idle"'s first entry goes.
      await (env.host as InternalHost).sweep();
    } finally {
      await env.close();
    }
    const written = await historyOf(dataDir, "embedded", "Ledger", "written");
    expect(written.map((e) => [e.atMs - t0, e.changes])).toEqual([[61 * 60_000, [{ name: "n", before: 1, after: 2 }]]]);
    const idle = await historyOf(dataDir, "embedded", "Ledger", "idle");
    expect(idle.map((e) => [e.atMs - t0, e.changes])).toEqual([[30 * 60_000, [{ name: "n", before: 1, after: 2 }]]]);
  });
});

describe("state history across a NATS take-over", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  function start(namespace: string, dataDir: string, snapshotEvery?: number): Promise<Host> {
    return startHost({
      services: [ledger],
      dataDir,
      nats: { servers: nats.url },
      namespace,
      partitions: PARTITIONS,
      leaseTtlMs: 1500,
      shutdownGraceMs: 500,
      logLevel: "silent",
      historyEntriesPerKey: 100,
      ...(snapshotEvery ? { snapshotEvery } : {}),
    });
  }

  it.each([
    { how: "the snapshots of a graceful close", snapshotEvery: undefined },
    { how: "snapshots taken every 2 invocations", snapshotEvery: 2 },
  ])("a host with an empty data dir that takes the partitions over through $how holds the same history as the first", async ({ snapshotEvery }) => {
    const namespace = uniqueNamespace("hist");
    const keys = ["h-0", "h-1", "h-2", "h-3", "h-4", "h-5"];
    const firstDir = tempDir();
    const a = await start(namespace, firstDir, snapshotEvery);
    const client = await connect({ servers: nats.url, namespace });
    try {
      for (const [i, key] of keys.entries()) {
        const c = client.objectClient(ledger, key);
        await c.set({ name: "a", value: i });
        await c.set({ name: "b", value: `b${i}` });
        await c.set({ name: "a", value: i + 100 });
        if (i % 2 === 0) await c.clearAll();
        await c.aroundStep();
      }
      await a.close();
      const first = await rawHistories(firstDir, keys.map((k) => ["Ledger", k]));
      expect(first.map((h) => h.length)).toEqual(keys.map((_, i) => (i % 2 === 0 ? 6 : 5)));

      const secondDir = tempDir();
      const b = await start(namespace, secondDir, snapshotEvery);
      try {
        expect(await eventually(() => b.ownedPartitions().length === PARTITIONS, 20_000)).toBe(true);
        // One more write on the new host: its before value is the state the take-over restored.
        await client.objectClient(ledger, "h-1").set({ name: "a", value: "new" });
      } finally {
        await b.close();
      }
      const second = await rawHistories(secondDir, keys.map((k) => ["Ledger", k]));
      expect(second.map((h, i) => (i === 1 ? h.slice(1) : h))).toEqual(first);
      expect(historyView(second[1]?.[0] as HistoryEntry).changes).toEqual([{ name: "a", before: 101, after: "new" }]);
    } finally {
      await client.close();
    }
  }, 60_000);

  it("a host with an empty data dir that takes the partitions of a SIGKILLed host over through the changelog holds the same history", async () => {
    const namespace = uniqueNamespace("histk");
    const firstDir = tempDir();
    const a = await startHostProcess({ natsUrl: nats.url, namespace, dataDir: firstDir, partitions: PARTITIONS, env: { CAIRN_TEST_LEASE_TTL_MS: "1500", CAIRN_TEST_HISTORY_ENTRIES: "100" } });
    const client = await connect({ servers: nats.url, namespace });
    const keys = ["k-0", "k-1", "k-2", "k-3", "k-4"];
    const named = keys.flatMap((k): Array<[string, string]> => [["Counter", k], ["Mirror", k]]);
    try {
      for (let round = 1; round <= 3; round++) for (const key of keys) await client.objectClient(counter, key).add(round);
      // The mirrors' adds are one-way sends: applied once their totals caught up.
      expect(await eventually(async () => (await Promise.all(keys.map((k) => client.objectClient(mirror, k).total()))).every((t) => t === 6), 10_000)).toBe(true);
      await killProcess(a);
      const first = await rawHistories(firstDir, named);
      expect(first.map((h) => h.length)).toEqual(named.map(() => 3));

      const secondDir = tempDir();
      const b = await startHost({
        services: [shoppingCart, orderService, counter, mirror, probe, blob],
        dataDir: secondDir,
        nats: { servers: nats.url },
        namespace,
        partitions: PARTITIONS,
        leaseTtlMs: 1500,
        shutdownGraceMs: 500,
        logLevel: "silent",
        historyEntriesPerKey: 100,
      });
      try {
        expect(await eventually(() => b.ownedPartitions().length === PARTITIONS, 20_000)).toBe(true);
      } finally {
        await b.close();
      }
      expect(await rawHistories(secondDir, named)).toEqual(first);
    } finally {
      await killProcess(a);
      await client.close();
    }
  }, 60_000);
});
