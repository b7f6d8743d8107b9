import { connect as natsConnect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Host, startHost } from "cairn/runtime";
import { logStreamName, logSubject, snapshotBucketName } from "../runtime/transport/nats/index.js";
import { probe } from "./fixtures/probe.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

let nats: NatsServer;
const open: Host[] = [];
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  for (const host of open.splice(0)) await host.close().catch(() => undefined);
  await nats?.stop();
});

const PARTITIONS = 6;

async function start(namespace: string, extra: { snapshotEvery?: number; leaseTtlMs?: number } = {}): Promise<Host> {
  const host = await startHost({
    services: [probe],
    dataDir: tempDir(),
    nats: { servers: nats.url },
    namespace,
    partitions: PARTITIONS,
    leaseTtlMs: 1500,
    shutdownGraceMs: 2000,
    logLevel: "silent",
    ...extra,
  });
  open.push(host);
  return host;
}

async function close(host: Host): Promise<void> {
  open.splice(open.indexOf(host), 1);
  await host.close();
}

describe("hosts sharing a namespace", () => {
  it("split the partitions between them, and hand them over with their state when one stops", async () => {
    const namespace = uniqueNamespace("so");
    // Leases far longer than the test waits: partitions move because they are handed over, not because leases expire.
    const first = await start(namespace, { leaseTtlMs: 20_000 });
    expect(first.ownedPartitions()).toHaveLength(PARTITIONS);
    for (let i = 0; i < 12; i++) await first.client.objectClient(probe, `k${i}`).append(i);

    const second = await start(namespace, { leaseTtlMs: 20_000 });
    expect(await eventually(() => first.ownedPartitions().length === 3 && second.ownedPartitions().length === 3)).toBe(true);
    const assignment = await second.assignment();
    expect(assignment.map((a) => a.partition)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(assignment.map((a) => a.hostId))).toEqual(new Set([first.hostId, second.hostId]));
    // Whoever owns a key's partition now, its state is there: the second host started with an empty data dir.
    for (let i = 0; i < 12; i++) expect(await second.client.objectClient(probe, `k${i}`).list()).toEqual([i]);
    for (let i = 0; i < 12; i++) await second.client.objectClient(probe, `k${i}`).append(100 + i);

    await close(first);
    // Handed over: the second host sees the leases go and takes them, without waiting for the TTL.
    expect(await eventually(() => second.ownedPartitions().length === PARTITIONS, 10_000)).toBe(true);
    for (let i = 0; i < 12; i++) expect(await second.client.objectClient(probe, `k${i}`).list()).toEqual([i, 100 + i]);
    const epochs = (await second.assignment()).map((a) => a.epoch);
    expect(epochs.every((e) => e > 0)).toBe(true);
  });

  it("restores a partition from its snapshot plus the changelog after it, on a host with an empty data dir", async () => {
    const namespace = uniqueNamespace("sn");
    const first = await start(namespace, { snapshotEvery: 5 });
    const client = first.client.objectClient(probe, "hot");
    for (let i = 0; i < 23; i++) await client.append(i);
    const nc = await natsConnect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const objects = await (await nc.jetstream().views.os(snapshotBucketName(namespace))).list();
      expect(objects.length).toBeGreaterThan(0);
      // The changelog was trimmed behind the snapshots: the hot key's partition keeps only its tail.
      const info = await jsm.streams.info(logStreamName(namespace), { subjects_filter: `${namespace}.log.>` });
      const kept = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      expect(kept).toBeLessThan(23);
      expect(logSubject(namespace, 0)).toBe(`${namespace}.log.0`);
    } finally {
      await nc.close();
    }
    await close(first);
    const second = await start(namespace, { snapshotEvery: 5 });
    expect(await second.client.objectClient(probe, "hot").list()).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });
});
