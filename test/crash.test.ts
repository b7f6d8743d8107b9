import type { ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { counter, mirror } from "../examples/counter.js";
import { shoppingCart } from "../examples/shopping-cart.js";
import { probe } from "./fixtures/probe.js";
import { eventually, seededRandom, tempDir, uniqueNamespace, untilAcknowledged } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20261124);
const KILLS = 6;
const CARTS = 12;
const COUNTERS = 6;
const WORKERS = 24;

let nats: NatsServer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
});

const killHost = () => killProcess(child);

afterAll(async () => {
  await killHost();
  await nats?.stop();
});

function startHost(namespace: string, dataDir: string): Promise<ChildProcess> {
  return startHostProcess({ natsUrl: nats.url, namespace, dataDir, partitions: 8 });
}

it("loses and duplicates nothing when the host is SIGKILLed at random moments under load", async () => {
  const random = seededRandom(SEED);
  const namespace = uniqueNamespace("crash");
  const dataDir = tempDir();
  child = await startHost(namespace, dataDir);
  // Shorter than a restart: calls in flight during a kill time out and are retried with their key.
  const client: CairnClient = await connect({ servers: nats.url, namespace, timeoutMs: 700 });

  const acknowledged = new Map<string, Set<string>>();
  const counterAdds = new Map<string, number>();
  const stats = { retries: 0, calls: 0 };
  let stopLoad = false;
  let next = 0;

  const worker = async (w: number) => {
    while (!stopLoad) {
      const n = next++;
      if (n % 3 === 2) {
        const key = `counter-${n % COUNTERS}`;
        await untilAcknowledged(() => client.objectClient(counter, key).add(1, { idempotencyKey: `add-${n}` }), stats);
        counterAdds.set(key, (counterAdds.get(key) ?? 0) + 1);
      } else {
        const key = `cart-${n % CARTS}`;
        const sku = `sku-${n}`;
        await untilAcknowledged(
          () => client.objectClient(shoppingCart, key).addItem({ sku, qty: 1, priceCents: w }, { idempotencyKey: sku }),
          stats,
        );
        const set = acknowledged.get(key) ?? new Set<string>();
        set.add(sku);
        acknowledged.set(key, set);
      }
      stats.calls++;
    }
  };
  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

  for (let kill = 0; kill < KILLS; kill++) {
    await sleep(300 + Math.floor(random() * 1200));
    const callsBefore = stats.calls;
    await killHost();
    child = await startHost(namespace, dataDir);
    console.log(`kill ${kill + 1}/${KILLS}: ${callsBefore} calls acknowledged before it`);
  }
  await sleep(500);
  stopLoad = true;
  await load;

  let lost = 0;
  let duplicated = 0;
  for (const [key, skus] of acknowledged) {
    const items = await untilAcknowledged(() => client.objectClient(shoppingCart, key).getItems(), stats);
    const seen = new Map<string, number>();
    for (const item of items) seen.set(item.sku, (seen.get(item.sku) ?? 0) + 1);
    for (const sku of skus) if (!seen.has(sku)) lost++;
    for (const [sku, count] of seen) {
      if (count > 1) duplicated += count - 1;
      if (!skus.has(sku)) duplicated++;
    }
  }
  const totals = async (key: string) => ({
    counter: await untilAcknowledged(() => client.objectClient(counter, key).total(), stats),
    mirror: await untilAcknowledged(() => client.objectClient(mirror, key).total(), stats),
  });
  const mirrored = await eventually(async () => {
    for (const key of counterAdds.keys()) {
      const t = await totals(key);
      if (t.counter !== t.mirror) return false;
    }
    return true;
  }, 30_000, 200);
  let counterMismatches = 0;
  let mirrorMismatches = 0;
  for (const [key, adds] of counterAdds) {
    const t = await totals(key);
    if (t.counter !== adds) counterMismatches++;
    if (t.mirror !== t.counter) mirrorMismatches++;
  }
  const carts = [...acknowledged.values()].reduce((sum, s) => sum + s.size, 0);
  console.log(
    `seed ${SEED}: ${KILLS} kills, ${stats.calls} calls acknowledged (${carts} addItem, ${stats.calls - carts} Counter.add), ` +
      `${stats.retries} retries; lost ${lost}, duplicated ${duplicated}, counters off ${counterMismatches}, mirrors off ${mirrorMismatches}`,
  );
  await client.close();
  await killHost();

  expect(stats.calls).toBeGreaterThan(50); // the load really ran between the kills
  expect(lost).toBe(0);
  expect(duplicated).toBe(0);
  expect(counterMismatches).toBe(0);
  expect(mirrored).toBe(true);
  expect(mirrorMismatches).toBe(0);
}, 240_000);

it("answers a call that was waiting while its host was killed, without the client retrying", async () => {
  const namespace = uniqueNamespace("wait");
  const dataDir = tempDir();
  child = await startHost(namespace, dataDir);
  const client = await connect({ servers: nats.url, namespace, timeoutMs: 30_000 });
  try {
    // The host dies while the handler runs, before anything is committed.
    const started = join(tempDir(), "started");
    const call = client.objectClient(probe, "waiting").sleepAndMark({ ms: 1500, started });
    expect(await eventually(() => existsSync(started), 20_000)).toBe(true);
    await killHost();
    rmSync(started);
    child = await startHost(namespace, dataDir);
    expect(await call).toBe(1500);
    // The handler ran again on the new host: that is what answered.
    expect(existsSync(started)).toBe(true);
  } finally {
    await client.close();
    await killHost();
  }
}, 60_000);
