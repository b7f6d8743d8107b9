import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type ObjectContext, type ObjectSharedContext, handlers, object } from "cairn";
import { startHost } from "cairn/runtime";
import { Store } from "../runtime/store/index.js";
import { partitionOf } from "../sdk/internal.js";
import { type Hit, ledger } from "./fixtures/delayed-ledger.js";
import { eventually, seededRandom, tempDir } from "./helpers/host.js";

let hangNext = false;

const stuck = object({
  name: "Stuck",
  handlers: {
    /** Hangs forever the first time after `hangNext` is set (the process's first attempt). */
    run: async (ctx: ObjectContext, label: string) => {
      if (hangNext) {
        hangNext = false;
        await new Promise(() => undefined);
      }
      const runs = (await ctx.get<string[]>("runs")) ?? [];
      ctx.set("runs", [...runs, label]);
    },
    runs: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<string[]>("runs")) ?? []),
    /** Sends itself again at once, `left` more times: a hot loop on one key. */
    spin: async (ctx: ObjectContext, left: number) => {
      ctx.set("spins", ((await ctx.get<number>("spins")) ?? 0) + 1);
      if (left > 0) ctx.objectSendClient(stuck, ctx.key).spin(left - 1);
    },
    spins: handlers.object.shared(async (ctx: ObjectSharedContext) => (await ctx.get<number>("spins")) ?? 0),
  },
});

describe("embedded mode under a bad day", () => {
  it("closes within its grace period with a handler that never returns, and runs that invocation (and the one queued behind it) at the next start, in order", async () => {
    const dataDir = tempDir();
    const options = { services: [stuck], dataDir, partitions: 4, shutdownGraceMs: 300, logLevel: "silent" as const };
    let host = await startHost(options);
    hangNext = true;
    await host.client.objectSendClient(stuck, "k").run("first");
    await host.client.objectSendClient(stuck, "k").run("second");
    await sleep(100);
    const t0 = performance.now();
    await host.close();
    const closeMs = performance.now() - t0;
    console.log(`close() with a hung handler: ${Math.round(closeMs)} ms (grace 300 ms)`);
    expect(closeMs).toBeLessThan(3_000);
    host = await startHost(options);
    try {
      expect(await eventually(async () => (await host.client.objectClient(stuck, "k").runs()).length >= 2, 10_000)).toBe(true);
      expect(await host.client.objectClient(stuck, "k").runs()).toEqual(["first", "second"]);
    } finally {
      await host.close();
    }
  });

  it("runs delayed sends that fell due while the host was down promptly after it starts, in due order, none early", async () => {
    const dataDir = tempDir();
    const options = { services: [ledger], dataDir, partitions: 4, logLevel: "silent" as const };
    let host = await startHost(options);
    const random = seededRandom(88);
    const delays = Array.from({ length: 60 }, (_, i) => 200 + i * 7).sort(() => random() - 0.5);
    // Each timer is due between [before + delay, after + delay] of its own send.
    const due: Array<{ low: number; high: number }> = [];
    for (const [i, delayMs] of delays.entries()) {
      const before = Date.now();
      await host.client.objectSendClient(ledger, "down", { delayMs }).hit(i);
      due.push({ low: before + delayMs, high: Date.now() + delayMs });
    }
    await host.close();
    await sleep(Math.max(0, Math.max(...due.map((d) => d.high)) + 300 - Date.now()));
    const t0 = performance.now();
    host = await startHost(options);
    try {
      let hits: Hit[] = [];
      expect(await eventually(async () => (hits = await host.client.objectClient(ledger, "down").hits()).length === delays.length, 10_000)).toBe(true);
      console.log(`${delays.length} overdue timers ran ${Math.round(performance.now() - t0)} ms after start`);
      const ran = [...hits].sort((a, b) => a.order - b.order).map((h) => ({ id: h.id, ...(due[h.id] as { low: number; high: number }) }));
      const outOfOrder = ran.flatMap((a, i) => ran.slice(i + 1).filter((b) => a.low > b.high).map((b) => `${a.id} (due ≥ ${a.low}) ran before ${b.id} (due ≤ ${b.high})`));
      expect(outOfOrder).toEqual([]);
      expect(hits.filter((h) => h.at < (due[h.id]?.low ?? 0))).toEqual([]);
      expect(hits.every((h) => h.count === 1)).toBe(true);
    } finally {
      await host.close();
    }
  });

  it("keeps answering other keys while one key re-sends itself in a tight loop", async () => {
    const host = await startHost({ services: [stuck], dataDir: tempDir(), partitions: 4, logLevel: "silent" });
    try {
      await host.client.objectSendClient(stuck, "hot").spin(100_000);
      await sleep(200);
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await host.client.objectClient(stuck, `cold-${i}`).run(`r${i}`);
        latencies.push(performance.now() - t0);
      }
      const spins = await host.client.objectClient(stuck, "hot").spins();
      latencies.sort((a, b) => a - b);
      console.log(`hot key at ${spins} spins; other keys' call latency p50 ${latencies[10]?.toFixed(1)} ms, max ${latencies[19]?.toFixed(1)} ms`);
      expect(spins).toBeGreaterThan(0);
      expect(latencies[19]).toBeLessThan(500);
    } finally {
      await host.close();
    }
  });

  it("keeps 20,000 pending timers without slowing the start, and still fires a near one among them", async () => {
    const dataDir = tempDir();
    const options = { services: [ledger], dataDir, partitions: 4, logLevel: "silent" as const };
    let host = await startHost(options);
    const t0 = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 20_000; i++) {
      sends.push(host.client.objectSendClient(ledger, `far-${i % 50}`, { delayMs: 3_600_000 + i }).hit(i));
      if (sends.length >= 256) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
    console.log(`20,000 delayed sends accepted in ${Math.round(performance.now() - t0)} ms`);
    await host.client.objectSendClient(ledger, "near", { delayMs: 50 }).hit(1);
    expect(await eventually(async () => (await host.client.objectClient(ledger, "near").hits()).length === 1, 5_000)).toBe(true);
    await host.close();
    const t1 = performance.now();
    host = await startHost(options);
    const startMs = performance.now() - t1;
    console.log(`start with 20,000 pending timers: ${Math.round(startMs)} ms`);
    try {
      expect(startMs).toBeLessThan(2_000);
      await host.client.objectSendClient(ledger, "near", { delayMs: 50 }).hit(2);
      expect(await eventually(async () => (await host.client.objectClient(ledger, "near").hits()).length === 2, 5_000)).toBe(true);
    } finally {
      await host.close();
    }
  }, 120_000);

  it("keeps a delayed send of the largest delay accepted (Number.MAX_SAFE_INTEGER ms) in its partition's timers and snapshot", async () => {
    const dataDir = tempDir();
    const host = await startHost({ services: [ledger], dataDir, partitions: 4, logLevel: "silent" });
    try {
      await host.client.objectSendClient(ledger, "far", { delayMs: Number.MAX_SAFE_INTEGER }).hit(1);
      await host.client.objectSendClient(ledger, "far", { delayMs: 60_000 }).hit(2);
    } finally {
      await host.close();
    }
    const store = new Store(dataDir, { sync: true, routing: "inbox" });
    try {
      const partition = partitionOf("Ledger", "far", 4);
      expect(store.countTimers(partition)).toBe(2);
      // A snapshot is how a NATS-mode partition moves to a host with an empty data dir.
      expect(store.exportPartition(partition).timers?.map((t) => t.dueMs > Number.MAX_SAFE_INTEGER)).toEqual([false, true]);
    } finally {
      await store.close();
    }
  });
});
