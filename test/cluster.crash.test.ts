import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { type NatsConnection, connect as natsConnect } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "cairn/client";
import { logStreamName } from "../runtime/transport/nats/index.js";
import { eventually, seededRandom, tempDir, uniqueNamespace } from "./helpers/host.js";
import { killProcess, startHostProcess } from "./helpers/host-process.js";
import { CrashLoad } from "./helpers/load.js";
import { LogWatcher, settled, stopAndCheck } from "./helpers/log-watcher.js";
import { type NatsCluster, startNatsCluster } from "./helpers/nats-cluster.js";

const SEED = Number(process.env.CAIRN_CRASH_SEED ?? 20261125);

let cluster: NatsCluster;
let nc: NatsConnection;
const children: ChildProcess[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await natsConnect({ servers: cluster.urls, maxReconnectAttempts: -1, ...cluster.host });
}, 60_000);

afterAll(async () => {
  for (const child of children) await killProcess(child);
  await nc?.close();
  await cluster?.stop();
});

it("loses and duplicates nothing when a node of a 3-node NATS cluster is killed under load (R3 streams, KV and snapshots)", async () => {
  const random = seededRandom(SEED);
  const namespace = uniqueNamespace("cluster");
  const start = async () => {
    const proc = await startHostProcess({
      natsUrl: cluster.urls.join(","),
      namespace,
      dataDir: tempDir(),
      partitions: 8,
      env: { CAIRN_NATS_USER: cluster.host.user, CAIRN_NATS_PASSWORD: cluster.host.pass, CAIRN_TEST_REPLICAS: "3", CAIRN_TEST_LEASE_TTL_MS: "10000", CAIRN_TEST_SNAPSHOT_EVERY: "100" },
    });
    children.push(proc);
  };
  await start();
  const watcher = new LogWatcher(nc);
  await watcher.start(namespace);
  await start();
  const jsm = await nc.jetstreamManager();
  expect((await jsm.streams.info(logStreamName(namespace))).config.num_replicas).toBe(3);
  // Both hosts hold their share before the load starts: the kill is what this test is about.
  expect(await settled(nc, namespace, 8, 2, 60_000)).toBe(true);

  // The host user: the shipped client user may call the namespace "cairn" only, and this test has its own.
  const client = await connect({ servers: cluster.urls, ...cluster.host, namespace, timeoutMs: 1500 });
  const load = new CrashLoad(client);
  load.start();
  await sleep(1500 + Math.floor(random() * 1000));
  const victim = cluster.nodes[Math.floor(random() * cluster.nodes.length)];
  if (!victim) throw new Error("no node");
  console.log(`kill -9 NATS node ${victim.name}: ${load.stats.calls} calls acknowledged so far`);
  await victim.kill();
  const killedAt = Date.now();
  const atKill = load.stats.calls;
  // The cluster elects new leaders for what the node led: seconds, up to tens of seconds on 2
  // busy cores. The leases (10 s here) outlive most of it; the load resumes once the cluster has.
  const resumed = await eventually(() => load.stats.calls > atKill + 200, 90_000, 250);
  console.log(`serving again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (${load.stats.calls - atKill} calls since)`);
  expect(resumed).toBe(true);
  const { result, violations, writers, summary } = await stopAndCheck(load, client, watcher);
  console.log(`seed ${SEED}: ${summary}`);

  expect(result).toMatchObject({ lost: 0, duplicated: 0, countersOff: 0, mirrored: true, mirrorsOff: 0 });
  expect(violations).toEqual([]);
  expect(writers.size).toBe(2);
}, 240_000);
