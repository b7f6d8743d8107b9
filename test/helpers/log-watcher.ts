import { setTimeout as sleep } from "node:timers/promises";
import { type ConsumerMessages, DeliverPolicy, type NatsConnection } from "nats";
import type { CairnClient } from "cairn/client";
import { decodeLogEntry, logStreamName } from "../../runtime/transport/nats/index.js";
import { leaseBucketName, readLeases } from "../../runtime/transport/nats/index.js";
import { eventually } from "./host.js";
import type { CrashLoad } from "./load.js";

/** Every changelog entry, in order, as it is appended: read before snapshots trim the log. */
export class LogWatcher {
  readonly entries: Array<{ partition: number; seq: number; hostId: string; epoch: number; type: string }> = [];
  private messages: ConsumerMessages | undefined;

  constructor(private readonly nc: NatsConnection) {}

  async start(namespace: string): Promise<void> {
    const js = this.nc.jetstream();
    const jsm = await this.nc.jetstreamManager();
    await eventually(async () => (await jsm.streams.info(logStreamName(namespace)).catch(() => undefined)) !== undefined, 30_000);
    // (DeliverPolicy.All makes nats.js 2.29 ordered consumers hang; start at sequence 1 instead.)
    const consumer = await js.consumers.get(logStreamName(namespace), { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    this.messages = await consumer.consume();
    void (async () => {
      for await (const msg of this.messages ?? []) {
        const partition = Number(msg.subject.split(".").pop());
        const entry = decodeLogEntry(msg.data, msg.seq, partition);
        this.entries.push({ partition, seq: msg.seq, hostId: entry.hostId, epoch: entry.epoch, type: entry.type });
      }
    })();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
  }

  /** Per partition, epochs must only grow along the log, and each epoch must belong to one host. */
  violations(): string[] {
    const problems: string[] = [];
    const last = new Map<number, { epoch: number; hostId: string; seq: number }>();
    const epochHost = new Map<string, string>();
    for (const e of this.entries) {
      const before = last.get(e.partition);
      if (before && e.epoch < before.epoch) {
        problems.push(`partition ${e.partition}: entry ${e.seq} by ${e.hostId} (epoch ${e.epoch}) after entry ${before.seq} of epoch ${before.epoch}`);
      }
      const key = `${e.partition}/${e.epoch}`;
      const owner = epochHost.get(key);
      if (owner && owner !== e.hostId) problems.push(`partition ${e.partition}: epoch ${e.epoch} written by ${owner} and ${e.hostId}`);
      epochHost.set(key, e.hostId);
      if (!before || e.epoch >= before.epoch) last.set(e.partition, { epoch: e.epoch, hostId: e.hostId, seq: e.seq });
    }
    return problems;
  }
}


/**
 * Waits until every one of `partitions` is leased, by exactly `hosts` distinct hosts (or, given ids,
 * by exactly those hosts), spread evenly.
 */
export async function settled(nc: NatsConnection, namespace: string, partitions: number, hosts: number | string[], timeoutMs = 20_000): Promise<boolean> {
  return eventually(
    async () => {
      const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true });
      const { leases } = await readLeases(kv);
      if (leases.length !== partitions) return false;
      const counts = new Map<string, number>();
      for (const l of leases) counts.set(l.hostId, (counts.get(l.hostId) ?? 0) + 1);
      const expected = typeof hosts === "number" ? hosts : hosts.length;
      if (counts.size !== expected || (typeof hosts !== "number" && !hosts.every((h) => counts.has(h)))) return false;
      // Spread evenly, as the hosts converge to: nobody holds more than one partition above anyone else.
      return Math.max(...counts.values()) - Math.min(...counts.values()) <= 1;
    },
    timeoutMs,
    100,
  );
}

/**
 * Ends a crash test's load and reads everything back: the load's violations, the changelog's epoch
 * violations, and who wrote the changelog, with a one-line summary.
 */
export async function stopAndCheck(load: CrashLoad, client: CairnClient, watcher: LogWatcher) {
  await load.stop();
  const result = await load.check();
  await client.close();
  await sleep(500); // the watcher reads the last entries
  await watcher.stop();
  const violations = watcher.violations();
  const writers = new Set(watcher.entries.map((e) => e.hostId));
  const summary = `${result.summary}; ${watcher.entries.length} changelog entries by ${writers.size} hosts, ${violations.length} epoch violations`;
  return { result, violations, writers, summary };
}
