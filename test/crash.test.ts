import type { ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type CairnClient, connect } from "cairn/client";
import { probe } from "./fixtures/probe.js";
import { eventually, seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { CrashLoad } from "./helpers/load.js";
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

  const load = new CrashLoad(client, { workers: WORKERS, carts: CARTS, counters: COUNTERS });
  load.start();

  for (let kill = 0; kill < KILLS; kill++) {
    await sleep(300 + Math.floor(random() * 1200));
    const callsBefore = load.stats.calls;
    await killHost();
    child = await startHost(namespace, dataDir);
    console.log(`kill ${kill + 1}/${KILLS}: ${callsBefore} calls acknowledged before it`);
  }
  await sleep(500);
  await load.stop();
  const result = await load.check();
  console.log(`seed ${SEED}: ${KILLS} kills, ${result.summary}`);
  await client.close();
  await killHost();

  expect(load.stats.calls).toBeGreaterThan(50); // the load really ran between the kills
  expect(result).toMatchObject({ lost: 0, duplicated: 0, countersOff: 0, mirrored: true, mirrorsOff: 0 });
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
