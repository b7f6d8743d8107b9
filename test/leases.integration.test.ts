import { connect as natsConnect, type NatsConnection } from "nats";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseOwnership } from "../runtime/transport/nats/index.js";
import { eventually, uniqueNamespace } from "./helpers/host.js";
import { type NatsServer, startNatsServer } from "./helpers/nats-server.js";

const PARTITIONS = 12;
const TTL_MS = 1000;

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

/** Who processed which partition when: every acquire and release, as the handlers saw them. */
interface Interval {
  host: string;
  partition: number;
  epoch: number;
  fromMs: number;
  toMs: number | undefined;
}

class Cluster {
  readonly intervals: Interval[] = [];
  private readonly hosts = new Map<string, { ownership: LeaseOwnership; nc: NatsConnection }>();

  constructor(private readonly namespace: string) {}

  async add(host: string): Promise<void> {
    const nc = await natsConnect({ servers: nats.url });
    const ownership = new LeaseOwnership({ nc, namespace: this.namespace, hostId: host, partitions: PARTITIONS, leaseTtlMs: TTL_MS, log: pino({ level: "silent" }) });
    this.hosts.set(host, { ownership, nc });
    await ownership.start({
      acquire: async (partition, epoch) => {
        this.intervals.push({ host, partition, epoch, fromMs: Date.now(), toMs: undefined });
      },
      release: async (partition) => this.end(host, partition),
    });
  }

  /** Graceful: hands its partitions over. */
  async stop(host: string): Promise<void> {
    const h = this.hosts.get(host);
    await h?.ownership.stop();
    await h?.nc.close();
    this.hosts.delete(host);
  }

  /** A crash: the connection drops, nothing is released; its processing ends now. */
  async kill(host: string): Promise<void> {
    const h = this.hosts.get(host);
    if (!h) return;
    this.hosts.delete(host);
    await h.nc.close(); // timers keep firing into a closed connection and fail, like a dead process
    for (const p of h.ownership.owned()) this.end(host, p);
    void h.ownership.stop().catch(() => undefined);
  }

  owners(): Map<string, number[]> {
    return new Map([...this.hosts].map(([id, h]) => [id, h.ownership.owned()]));
  }

  spreadIs(expected: number[]): boolean {
    const owned = [...this.owners().values()];
    const all = owned.flat();
    return new Set(all).size === PARTITIONS && all.length === PARTITIONS && owned.map((o) => o.length).sort((a, b) => a - b).join() === expected.join();
  }

  private end(host: string, partition: number): void {
    const open = this.intervals.find((i) => i.host === host && i.partition === partition && i.toMs === undefined);
    if (open) open.toMs = Date.now();
  }

  async stopAll(): Promise<void> {
    for (const host of [...this.hosts.keys()]) await this.stop(host);
  }
}

/** No partition was ever processed by two hosts at once, and its epochs only grew. */
function checkHistory(intervals: Interval[]): void {
  for (let p = 0; p < PARTITIONS; p++) {
    const mine = intervals.filter((i) => i.partition === p).sort((a, b) => a.fromMs - b.fromMs);
    for (let i = 1; i < mine.length; i++) {
      const [prev, next] = [mine[i - 1] as Interval, mine[i] as Interval];
      expect(prev.toMs, `partition ${p}: ${prev.host} still held it when ${next.host} took it`).toBeDefined();
      expect(prev.toMs as number).toBeLessThanOrEqual(next.fromMs);
      expect(next.epoch).toBeGreaterThan(prev.epoch);
    }
  }
}

describe("partition leases", () => {
  it("spread partitions evenly, hand them over on stop, and recover them after a crash", async () => {
    const cluster = new Cluster(uniqueNamespace("lease"));
    try {
      await cluster.add("a");
      expect(await eventually(() => cluster.spreadIs([12]), 5000)).toBe(true);
      await cluster.add("b");
      await cluster.add("c");
      expect(await eventually(() => cluster.spreadIs([4, 4, 4]), 10_000)).toBe(true);

      const handoffStarted = Date.now();
      await cluster.stop("b");
      expect(await eventually(() => cluster.spreadIs([6, 6]), 10_000)).toBe(true);
      const handoffMs = Date.now() - handoffStarted;

      await cluster.add("d");
      expect(await eventually(() => cluster.spreadIs([4, 4, 4]), 10_000)).toBe(true);
      const crashAt = Date.now();
      await cluster.kill("a");
      expect(await eventually(() => cluster.spreadIs([6, 6]), 10_000)).toBe(true);
      const failoverMs = Date.now() - crashAt;
      console.log(`leases: handoff on stop ${handoffMs} ms, failover after a crash ${failoverMs} ms (TTL ${TTL_MS} ms)`);
      // A crashed host's leases are only free once they expire.
      expect(failoverMs).toBeGreaterThanOrEqual(TTL_MS * 0.5);
      checkHistory(cluster.intervals);
    } finally {
      await cluster.stopAll();
    }
  }, 60_000);
});
