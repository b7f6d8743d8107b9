// Part of `npm run bench`: the cart scenario served by 1, 2 and 3 hosts (each in its own process,
// sharing the partitions through leases), then the failover time: from a host's SIGKILL until a
// key of one of its partitions answers again, median of 5.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect as natsConnect } from "nats";
import { connect } from "cairn/client";
import { shoppingCart } from "../examples/shopping-cart.js";
import { partitionOf } from "../sdk/internal.js";
import { leaseBucketName, readLeases } from "../runtime/transport/nats/index.js";
import { tempDir, uniqueNamespace } from "../test/helpers/host.js";
import { killProcess, startHostProcess } from "../test/helpers/host-process.js";
import { settled } from "../test/helpers/log-watcher.js";
import { startNatsServer } from "../test/helpers/nats-server.js";
import { cpuSeconds, percentile } from "./measure.js";

const PARTITIONS = 32;
const CARTS = 1000;
const CALLS = Number(process.env.BENCH_SCALE_CALLS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 5);

const nats = await startNatsServer();
const nc = await natsConnect({ servers: nats.url });

interface BenchHost {
  id: string;
  proc: ChildProcess;
}

async function startOne(namespace: string): Promise<BenchHost> {
  const dataDir = tempDir();
  const proc = await startHostProcess({ natsUrl: nats.url, namespace, dataDir, partitions: PARTITIONS });
  return { id: readFileSync(join(dataDir, "host-id"), "utf8").trim(), proc };
}

async function startHosts(namespace: string, count: number): Promise<BenchHost[]> {
  const hosts: BenchHost[] = [];
  for (let i = 0; i < count; i++) hosts.push(await startOne(namespace));
  if (!(await settled(nc, namespace, PARTITIONS, count, 60_000))) throw new Error(`${count} hosts did not share the partitions within 60 s`);
  return hosts;
}

async function cartRun(hostCount: number): Promise<string> {
  const namespace = uniqueNamespace("scale");
  const hosts = await startHosts(namespace, hostCount);
  const client = await connect({ servers: nats.url, namespace, timeoutMs: 60_000 });
  try {
    const call = (i: number) =>
      client.objectClient(shoppingCart, `cart-${i % CARTS}`).addItem({ sku: `sku-${i}`, qty: 1, priceCents: 100 }, { idempotencyKey: `k-${i}` });
    let next = 0;
    const pool = async (total: number, offset: number, latencies?: number[]) => {
      next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < total) {
            const i = next++;
            const t0 = performance.now();
            await call(offset + i);
            latencies?.push(performance.now() - t0);
          }
        }),
      );
    };
    await pool(1000, CALLS);
    const latencies: number[] = [];
    const cpu = () => ({ hosts: hosts.reduce((sum, h) => sum + cpuSeconds(h.proc.pid), 0), nats: cpuSeconds(nats.pid), client: cpuSeconds(process.pid) });
    const cpu0 = cpu();
    const started = performance.now();
    await pool(CALLS, 0, latencies);
    const seconds = (performance.now() - started) / 1000;
    const cpu1 = cpu();
    const share = (k: "hosts" | "nats" | "client") => `${((100 * (cpu1[k] - cpu0[k])) / seconds).toFixed(0)}%`;
    latencies.sort((a, b) => a - b);
    return (
      `${hostCount} host(s): ${(CALLS / seconds).toFixed(0)} calls/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
      `CPU (of one core): hosts ${share("hosts")}, nats-server ${share("nats")}, client ${share("client")}`
    );
  } finally {
    await client.close();
    for (const h of hosts) await killProcess(h.proc);
  }
}

/** A cart key whose partition `hostId` holds now. */
async function keyHeldBy(namespace: string, hostId: string): Promise<string> {
  const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true });
  const held = new Set((await readLeases(kv)).leases.filter((l) => l.hostId === hostId).map((l) => l.partition));
  for (let i = 0; ; i++) if (held.has(partitionOf(shoppingCart.name, `probe-${i}`, PARTITIONS))) return `probe-${i}`;
}

async function failovers(): Promise<number[]> {
  const namespace = uniqueNamespace("failover");
  const hosts = await startHosts(namespace, 2);
  const client = await connect({ servers: nats.url, namespace, timeoutMs: 200 });
  const times: number[] = [];
  try {
    for (let n = 1; n <= FAILOVERS; n++) {
      const [victim, survivor] = hosts.splice(0, 2) as [BenchHost, BenchHost];
      const key = await keyHeldBy(namespace, victim.id);
      await client.objectClient(shoppingCart, key).getItems();
      await killProcess(victim.proc);
      const killedAt = performance.now();
      for (;;) {
        try {
          await client.objectClient(shoppingCart, key).getItems();
          break;
        } catch {
          // not served yet (CallTimeoutError after 200 ms): ask again
        }
      }
      const ms = performance.now() - killedAt;
      times.push(ms);
      process.stdout.write(`  failover ${n}/${FAILOVERS}: ${(ms / 1000).toFixed(2)} s\n`);
      // Back to two hosts, the new one with an empty data dir.
      hosts.push(survivor, await startOne(namespace));
      if (!(await settled(nc, namespace, PARTITIONS, 2, 60_000))) throw new Error("the hosts did not settle after a failover");
    }
  } finally {
    await client.close();
    for (const h of hosts) await killProcess(h.proc);
  }
  return times;
}

try {
  console.log(`\nscale-out: cart scenario, ${CALLS} addItem calls, concurrency ${CONCURRENCY}, ${PARTITIONS} partitions; every host on this machine`);
  for (const count of [1, 2, 3]) console.log(`  ${await cartRun(count)}`);
  console.log(`failover: 2 hosts, leaseTtlMs 5000 (the default); SIGKILL the owner of a key, then call the key every 200 ms until it answers`);
  const times = (await failovers()).sort((a, b) => a - b);
  console.log(
    `  failover (median of ${times.length}): ${((times[Math.floor(times.length / 2)] ?? Number.NaN) / 1000).toFixed(2)} s ` +
      `(min ${((times[0] ?? Number.NaN) / 1000).toFixed(2)} s, max ${((times[times.length - 1] ?? Number.NaN) / 1000).toFixed(2)} s)`,
  );
} finally {
  await nc.close();
  await nats.stop();
}
