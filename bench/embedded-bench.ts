// `npm run bench` (embedded part): the cart scenario against an embedded host in this process,
// through host.client (no server: every commit is a synced LMDB transaction), one hot key, and the
// synced-LMDB ceiling they stand on, measured in the same run.
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { open } from "lmdb";
import { type ObjectContext, object } from "cairn";
import { startHost } from "cairn/runtime";
import { shoppingCart } from "../examples/shopping-cart.js";
import { tempDir } from "../test/helpers/host.js";
import { CART_SCENARIO, cpuSeconds, medianByRate, rssMiB, runPool, timedCalls } from "./measure.js";

const { carts: CARTS, calls: CALLS, concurrency: CONCURRENCY, warmup: WARMUP, runs: RUNS } = CART_SCENARIO;
const HOT_CALLS = Number(process.env.BENCH_HOT_CALLS ?? 5000);
const HOT_CONCURRENCY = 16;

interface Result {
  rate: number;
  p50: number;
  p99: number;
  cpu: number;
  rss: number;
}

const item = (i: number) => ({ sku: `sku-${i}`, qty: 1, priceCents: 100 });

/**
 * The hot key's object: one number per key. A cart would grow by an item per call, and its
 * throughput would measure msgpack on an ever longer list, not the one-at-a-time commit path.
 */
const tally = object({
  name: "Tally",
  handlers: {
    add: async (ctx: ObjectContext, n: number) => {
      const total = ((await ctx.get<number>("total")) ?? 0) + n;
      ctx.set("total", total);
      return total;
    },
  },
});

type Call = (client: Awaited<ReturnType<typeof startHost>>["client"], i: number) => Promise<unknown>;
const addItem = (keys: number): Call => (client, i) => client.objectClient(shoppingCart, `cart-${i % keys}`).addItem(item(i), { idempotencyKey: `k-${i}` });
const addToTally: Call = (client, i) => client.objectClient(tally, "hot").add(1, { idempotencyKey: `t-${i}` });

/** One run on a fresh data dir: `calls` calls, `concurrency` at a time. */
async function scenario(run: Call, calls: number, concurrency: number): Promise<Result> {
  const dataDir = tempDir("cairn-embedded-bench-");
  const host = await startHost({ services: [shoppingCart, tally], dataDir, logLevel: "warn" });
  try {
    const call = (i: number) => run(host.client, i);
    await runPool(WARMUP, concurrency, async (i) => void (await call(calls + i)));
    const cpu0 = cpuSeconds(process.pid);
    const r = await timedCalls(calls, concurrency, call);
    return { rate: r.rate, p50: r.p50, p99: r.p99, cpu: (cpuSeconds(process.pid) - cpu0) / r.seconds, rss: rssMiB(process.pid) };
  } finally {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** LMDB alone: synced transactions of `perCommit` puts, `concurrency` commits in flight. */
async function lmdbCeiling(perCommit: number, concurrency: number): Promise<number> {
  const dir = tempDir("cairn-lmdb-bench-");
  const db = open({ path: dir });
  const commits = perCommit === 1 ? 3000 : 300;
  const started = performance.now();
  await runPool(commits, concurrency, async (c) => {
    await db.transaction(() => {
      for (let i = 0; i < perCommit; i++) db.put(c * perCommit + i, { items: [{ sku: `sku-${i}`, qty: 1, priceCents: 100 }] });
    });
  });
  const rate = (commits * perCommit) / ((performance.now() - started) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

function report(name: string, runs: Result[]): Result {
  const r = medianByRate(runs);
  console.log(`  ${name} (median of ${runs.length}): ${r.rate.toFixed(0)} calls/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, CPU ${(100 * r.cpu).toFixed(0)}% of a core, RSS ${r.rss.toFixed(0)} MiB`);
  return r;
}

console.log(`embedded: ${CARTS} carts, ${CALLS} addItem calls through host.client (after ${WARMUP} warm-up), concurrency ${CONCURRENCY}; every commit a synced LMDB transaction`);
const carts: Result[] = [];
for (let run = 1; run <= RUNS; run++) {
  const r = await scenario(addItem(CARTS), CALLS, CONCURRENCY);
  console.log(`  run ${run}/${RUNS}: ${r.rate.toFixed(0)} calls/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  carts.push(r);
}
const cart = report("cart", carts);
console.log(`embedded, one hot key: ${HOT_CALLS} Tally.add calls to one key, concurrency ${HOT_CONCURRENCY} (exclusive: one at a time, each waiting for the last one's synced commit)`);
const hot: Result[] = [];
for (let run = 1; run <= RUNS; run++) hot.push(await scenario(addToTally, HOT_CALLS, HOT_CONCURRENCY));
const hotKey = report("hot key", hot);
const single = await lmdbCeiling(1, 1);
const grouped = await lmdbCeiling(100, 4);
console.log(`  ceiling: LMDB synced commits, one at a time ${single.toFixed(0)} commits/s; 100 puts per commit, 4 in flight ${grouped.toFixed(0)} puts/s`);
console.log(`  cart = ${((100 * cart.rate) / grouped).toFixed(0)}% of the grouped ceiling, ${(cart.rate / single).toFixed(1)}× the one-at-a-time one; hot key = ${(hotKey.rate / single).toFixed(2)}× one-at-a-time`);
