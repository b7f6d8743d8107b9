import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { durableSeen, steps } from "./fixtures/durable.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});
beforeEach(() => durableSeen.reset());

function start(namespace: string, snapshotEvery?: number): Promise<Host> {
  return startHost({
    services: [steps],
    dataDir: tempDir(),
    nats: { servers: nats.url },
    namespace,
    partitions: 4,
    leaseTtlMs: 1500,
    shutdownGraceMs: 500,
    logLevel: "silent",
    ...(snapshotEvery ? { snapshotEvery } : {}),
  });
}

describe.each([
  { how: "the changelog", snapshotEvery: undefined },
  { how: "a snapshot", snapshotEvery: 1 },
])("live invocations handed over through $how", ({ snapshotEvery }) => {
  it("resume on a host with an empty data dir: sleepers wake once, their steps do not run again, queued calls keep their order", async () => {
    const namespace = uniqueNamespace("dx");
    const a = await start(namespace, snapshotEvery);
    const client = await connect({ servers: nats.url, namespace });
    const keys = ["s-0", "s-1", "s-2", "s-3", "s-4"];
    try {
      for (const key of keys) await client.objectSendClient(steps, key).sleepy(2000);
      // Queued behind each sleeper: accepted into the partition's tables, not held by NATS.
      for (const key of keys) for (let i = 0; i < 3; i++) await client.objectSendClient(steps, key).record(i);
      expect(await eventually(async () => (await Promise.all(keys.map((k) => client.objectClient(steps, k).status()))).every((s) => s === "sleeping"), 10_000)).toBe(true);
      await a.close();
      const b = await start(namespace, snapshotEvery);
      try {
        const awake = async () => (await Promise.all(keys.map((k) => client.objectClient(steps, k).status()))).every((s) => s === "awake");
        expect(await eventually(awake, 20_000, 200)).toBe(true);
        for (const key of keys) {
          expect(await eventually(async () => (await client.objectClient(steps, key).records()).length === 3, 10_000)).toBe(true);
          expect(await client.objectClient(steps, key).records()).toEqual([0, 1, 2]);
          expect(durableSeen.stepRuns.get(`${key}:before-sleep`), `${key}'s step ran again`).toBe(1);
        }
      } finally {
        await b.close();
      }
    } finally {
      await client.close();
    }
  }, 60_000);
});
