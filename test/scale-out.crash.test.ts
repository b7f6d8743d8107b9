import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type NatsConnection, connect as natsConnect } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "cairn/client";
import { leaseBucketName, readLeases } from "../runtime/transport/nats/index.js";
import { eventually, seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { CrashLoad } from "./helpers/load.js";
import { LogWatcher, settled as settledOn, stopAndCheck } from "./helpers/log-watcher.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20261125);
const PARTITIONS = 8;
const LEASE_TTL_MS = 1500;

let nats: NatsServer;
let nc: NatsConnection;
const children: ChildProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await natsConnect({ servers: nats.url });
});

afterAll(async () => {
  for (const child of children) {
    if (child.signalCode === null && child.exitCode === null) child.kill("SIGCONT");
    await killProcess(child);
  }
  await nc?.close();
  await nats?.stop();
});

interface TestHost {
  id: string;
  proc: ChildProcess;
}

async function startHost(namespace: string): Promise<TestHost> {
  const dataDir = tempDir();
  const proc = await startHostProcess({
    natsUrl: nats.url,
    namespace,
    dataDir,
    partitions: PARTITIONS,
    env: { CAIRN_TEST_LEASE_TTL_MS: String(LEASE_TTL_MS), CAIRN_TEST_SNAPSHOT_EVERY: "100" },
  });
  children.push(proc);
  return { id: readFileSync(join(dataDir, "host-id"), "utf8").trim(), proc };
}

async function leases(namespace: string) {
  const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true });
  return readLeases(kv);
}

const settled = (namespace: string, hosts: TestHost[], timeoutMs?: number) =>
  settledOn(nc, namespace, PARTITIONS, hosts.map((h) => h.id), timeoutMs);

it("loses and duplicates nothing, and never lets two hosts write one partition, through kills, joins, stops and pauses", async () => {
  const random = seededRandom(SEED);
  const pause = () => sleep(500 + Math.floor(random() * 1000));
  const namespace = uniqueNamespace("scale");
  const watcher = new LogWatcher(nc);
  const a = await startHost(namespace);
  await watcher.start(namespace);
  const b = await startHost(namespace);
  const c = await startHost(namespace);
  expect(await settled(namespace, [a, b, c])).toBe(true);

  const client = await connect({ servers: nats.url, namespace, timeoutMs: 1000 });
  const load = new CrashLoad(client);
  load.start();
  const step = (what: string) => console.log(`${what}: ${load.stats.calls} calls acknowledged so far`);

  await pause();
  step("kill -9 b");
  await killProcess(b.proc);
  expect(await settled(namespace, [a, c])).toBe(true);

  await pause();
  step("start d (empty data dir)");
  const d = await startHost(namespace);
  expect(await settled(namespace, [a, c, d])).toBe(true);

  await pause();
  step("SIGTERM a (graceful)");
  const exited = new Promise((resolve) => a.proc.once("exit", resolve));
  a.proc.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(await settled(namespace, [c, d])).toBe(true);

  await pause();
  const before = (await leases(namespace)).leases.filter((l) => l.hostId === c.id);
  step(`SIGSTOP c (holding partitions ${before.map((l) => l.partition).join(", ")})`);
  c.proc.kill("SIGSTOP");
  // Past its leases: d takes c's partitions over and commits on them while c sleeps.
  expect(await settled(namespace, [d], LEASE_TTL_MS * 6)).toBe(true);
  const callsWhilePaused = load.stats.calls;
  await sleep(1000);
  expect(load.stats.calls).toBeGreaterThan(callsWhilePaused);
  step("SIGCONT c");
  c.proc.kill("SIGCONT");
  // c finds its leases gone and its changelog appends fenced; then the hosts balance again.
  expect(await settled(namespace, [c, d])).toBe(true);
  await pause();

  const { result, violations, writers, summary } = await stopAndCheck(load, client, watcher);
  console.log(`seed ${SEED}: ${summary}`);

  expect(load.stats.calls).toBeGreaterThan(100);
  expect(result).toMatchObject({ lost: 0, duplicated: 0, countersOff: 0, mirrored: true, mirrorsOff: 0 });
  expect(writers).toEqual(new Set([a.id, b.id, c.id, d.id]));
  expect(violations).toEqual([]);
}, 240_000);
