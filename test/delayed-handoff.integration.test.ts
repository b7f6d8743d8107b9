import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "cairn/client";
import { type Host, startHost } from "cairn/runtime";
import { type Hit, ledger, scheduler } from "./fixtures/delayed-ledger.js";
import { eventually, tempDir, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

function start(namespace: string, snapshotEvery?: number): Promise<Host> {
  return startHost({
    services: [ledger, scheduler],
    dataDir: tempDir(),
    nats: { servers: nats.url },
    namespace,
    partitions: 4,
    leaseTtlMs: 1500,
    shutdownGraceMs: 2000,
    logLevel: "silent",
    ...(snapshotEvery ? { snapshotEvery } : {}),
  });
}

describe.each([
  { how: "the changelog", snapshotEvery: undefined },
  { how: "a snapshot", snapshotEvery: 1 },
])("delayed sends handed over through $how", ({ snapshotEvery }) => {
  it("fire once on a host with an empty data dir that takes over after the first closed", async () => {
    const namespace = uniqueNamespace("dh");
    const a = await start(namespace, snapshotEvery);
    const client = await connect({ servers: nats.url, namespace });
    const sentAt = Date.now();
    try {
      for (let i = 0; i < 10; i++) await client.objectSendClient(ledger, `l-${i % 3}`, { delayMs: 1500 }).hit(i);
      for (let i = 10; i < 20; i++) await client.objectClient(scheduler, `s-${i % 2}`).schedule({ ledgerKey: `l-${i % 3}`, id: i, delayMs: 1500 });
      // Many commits after, so that a snapshot is taken of each partition with timers in it.
      for (let i = 0; i < 20; i++) await client.objectClient(scheduler, `pad-${i}`).schedule({ ledgerKey: "pad", id: 100 + i, delayMs: 0 });
      await a.close();
      const b = await start(namespace, snapshotEvery);
      try {
        let hits: Hit[] = [];
        const all = async () => {
          hits = [];
          for (let k = 0; k < 3; k++) hits.push(...(await client.objectClient(ledger, `l-${k}`).hits()));
          return hits.length === 20;
        };
        expect(await eventually(all, 15_000, 200)).toBe(true);
        expect(hits.filter((h) => h.count !== 1)).toEqual([]);
        expect(hits.filter((h) => h.at < sentAt + 1500)).toEqual([]);
      } finally {
        await b.close();
      }
    } finally {
      await client.close();
    }
  }, 60_000);
});
