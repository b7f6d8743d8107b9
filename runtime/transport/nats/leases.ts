import { performance } from "node:perf_hooks";
import { type KV, type KvEntry, KvWatchInclude, type NatsConnection, type QueuedIterator } from "nats";
import type { Logger } from "pino";
import { namespaceToken } from "../../../sdk/internal.js";
import { isWrongLastSequence } from "./jetstream-errors.js";
import { type OwnershipHandlers, type PartitionLease, type PartitionOwnership, planStep } from "../../partition/index.js";

export interface LeaseOptions {
  nc: NatsConnection;
  namespace: string;
  hostId: string;
  partitions: number;
  /** A lease or membership entry not refreshed for this long is gone. */
  leaseTtlMs: number;
  /** Replicas of the lease bucket when this host creates it. @default 1 */
  replicas?: number;
  log: Logger;
}


interface Lease {
  revision: number;
  epoch: number;
  renewedAtMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseHolder(value: Uint8Array): { hostId: string; epoch: number } | undefined {
  try {
    const parsed = JSON.parse(decoder.decode(value)) as { hostId?: unknown; epoch?: unknown };
    if (typeof parsed.hostId !== "string") return undefined;
    return { hostId: parsed.hostId, epoch: typeof parsed.epoch === "number" ? parsed.epoch : 0 };
  } catch {
    return undefined;
  }
}

export function leaseBucketName(namespace: string): string {
  return `${namespaceToken(namespace)}_leases`;
}

/** Reads the lease bucket: the live hosts and every partition's holder. */
export async function readLeases(kv: KV): Promise<{ hosts: string[]; leases: PartitionLease[] }> {
  const hosts: string[] = [];
  const leases: PartitionLease[] = [];
  // Collect the keys first: awaiting other requests while the key lister runs loses keys.
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  for (const key of keys) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") continue;
    const holder = parseHolder(entry.value);
    if (!holder) continue;
    if (key.startsWith("h.")) hosts.push(holder.hostId);
    // A lease's epoch is the revision that created it; until its first renewal the value says 0.
    else if (key.startsWith("p.")) leases.push({ partition: Number(key.slice(2)), hostId: holder.hostId, epoch: holder.epoch || entry.revision, revision: entry.revision });
  }
  return { hosts: hosts.sort(), leases: leases.sort((a, b) => a.partition - b.partition) };
}

/**
 * Partition leases in a JetStream KV bucket (`<namespace>_leases`, entries expiring `leaseTtlMs`
 * after their last write). Each host keeps a membership key `h.<hostId>` alive, renews the
 * `p.<partition>` leases it holds every third of the TTL, and moves towards an even spread
 * (see assignment.ts): releasing what it holds over its quota, creating leases for free partitions
 * under it. A lease is created with `create` (fails if held) and renewed with `update` at the
 * revision it knows (fails if anyone else wrote since), so two hosts never hold one lease. The
 * revision that created a lease is its epoch: it only grows, across hosts and restarts.
 *
 * Renewal runs on its own timer, so that a slow start of a partition never delays the renewal of
 * the others. A lease whose renewal has not succeeded for 80% of the TTL is given up before it can
 * expire and be taken elsewhere; that is a clock-based guard. What makes a paused host harmless is
 * the changelog's fenced append, not this.
 */
export class LeaseOwnership implements PartitionOwnership {
  private readonly held = new Map<number, Lease>();
  /**
   * Partitions being stopped: their leases are still renewed (a graceful stop may outlast the TTL)
   * until deleted, and never taken back by this host meanwhile.
   */
  private readonly releasing = new Map<number, { lease: Lease; done: Promise<void> }>();
  /** Partitions whose start failed: not tried again before the time given (backoff). */
  private readonly retryAfter = new Map<number, { atMs: number; failures: number }>();
  private kv: KV | undefined;
  private handlers: OwnershipHandlers | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private balancing: Promise<void> | undefined;
  /** Something changed while a rebalance ran: run another right after it. */
  private rebalanceAgain = false;
  private knownHosts = new Set<string>();
  /** Since when (performance.now()) each partition has been seen without a lease. */
  private readonly freeSince = new Map<number, number>();
  private watcher: QueuedIterator<KvEntry> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  async start(handlers: OwnershipHandlers): Promise<void> {
    this.handlers = handlers;
    this.kv = await this.options.nc
      .jetstream()
      .views.kv(leaseBucketName(this.options.namespace), { ttl: this.options.leaseTtlMs, history: 1, replicas: this.options.replicas ?? 1 });
    await this.renew();
    const every = Math.max(50, Math.floor(this.options.leaseTtlMs / 3));
    // Renewals start before the first partitions do: starting them can take longer than the TTL.
    this.renewTimer = setInterval(() => void this.renewSoon(), every);
    await this.rebalanceSoon();
    this.rebalanceTimer = setInterval(() => void this.rebalanceSoon(), every);
    await this.watchChanges();
  }

  /**
   * Rebalances at once when a lease is released or a host joins, instead of at the next round:
   * that is what makes a graceful handoff immediate. Renewals (our own and others') are ignored.
   */
  private async watchChanges(): Promise<void> {
    if (!this.kv) return;
    this.watcher = await this.kv.watch({ key: ">", include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of this.watcher ?? []) {
        const released = entry.operation !== "PUT" && entry.key.startsWith("p.");
        const joined = entry.operation === "PUT" && entry.key.startsWith("h.") && !this.knownHosts.has(entry.key.slice(2));
        if (released || joined) void this.rebalanceSoon();
      }
    })().catch((err: unknown) => this.options.log.warn({ err }, "lease watch ended; rebalancing on the timer only"));
  }

  private renewSoon(): Promise<void> {
    return (this.renewing ??= this.renew()
      .catch((err: unknown) => this.options.log.warn({ err }, "lease renewal failed"))
      .finally(() => (this.renewing = undefined)));
  }

  private rebalanceSoon(): Promise<void> {
    if (this.balancing) {
      this.rebalanceAgain = true;
      return this.balancing;
    }
    this.rebalanceAgain = false;
    return (this.balancing = this.rebalance()
      .catch((err: unknown) => this.options.log.warn({ err }, "lease rebalance failed"))
      .finally(() => {
        this.balancing = undefined;
        if (this.rebalanceAgain && !this.stopped) void this.rebalanceSoon();
      }));
  }

  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Every partition's holder, read from the bucket now. */
  async assignment(): Promise<PartitionLease[]> {
    return this.kv ? (await readLeases(this.kv)).leases : [];
  }

  /**
   * Gives a partition up at once, without grace: its changelog says another writer owns it now.
   * Only the lease of `epoch`: a worker of an older epoch fenced by this host's newer one must not
   * take the newer one down with it.
   */
  async drop(partition: number, epoch: number): Promise<void> {
    if (this.held.get(partition)?.epoch !== epoch) return;
    await this.release(partition, "lost");
  }

  /**
   * Hands every partition over: stop processing, then delete the lease so another host takes it at
   * once. Leases are renewed until then, however long the partitions take to stop.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rebalanceTimer);
    this.watcher?.stop();
    await this.balancing;
    await Promise.all(this.owned().map((p) => this.release(p, "handoff")));
    await Promise.all([...this.releasing.values()].map((r) => r.done));
    clearInterval(this.renewTimer);
    await this.renewing;
    await this.kv?.delete(`h.${this.options.hostId}`).catch(() => undefined);
  }

  private value(epoch: number): Uint8Array {
    return encoder.encode(JSON.stringify({ hostId: this.options.hostId, epoch }));
  }

  private async renew(): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    const { hostId, leaseTtlMs, log } = this.options;
    // Membership and leases are refreshed side by side: a slow membership write must not delay a lease.
    const membership = this.stopped
      ? undefined
      : kv.put(`h.${hostId}`, encoder.encode(JSON.stringify({ hostId }))).catch((err: unknown) => log.warn({ err }, "host membership refresh failed"));
    const now = performance.now();
    const leases: Array<[number, Lease, boolean]> = [
      ...[...this.held].map(([p, lease]): [number, Lease, boolean] => [p, lease, true]),
      ...[...this.releasing].map(([p, r]): [number, Lease, boolean] => [p, r.lease, false]),
    ];
    await Promise.all(
      leases.map(async ([p, lease, held]) => {
        try {
          lease.revision = await kv.update(`p.${p}`, this.value(lease.epoch), lease.revision);
          lease.renewedAtMs = performance.now();
        } catch (error) {
          if (isWrongLastSequence(error) && (await this.stillMine(kv, p, lease))) return;
          if (held && (isWrongLastSequence(error) || now - lease.renewedAtMs > leaseTtlMs * 0.8)) {
            log.error({ err: error, partition: p, epoch: lease.epoch }, "partition lease lost");
            // Not awaited: stopping the partition must not hold up the other renewals.
            void this.release(p, "lost");
          }
        }
      }),
    );
    await membership;
  }

  /** A renewal whose answer was lost still moved the revision on: the lease is ours if it says so. */
  private async stillMine(kv: KV, partition: number, lease: Lease): Promise<boolean> {
    const entry = await kv.get(`p.${partition}`).catch(() => null);
    const holder = entry?.operation === "PUT" ? parseHolder(entry.value) : undefined;
    if (!entry || holder?.hostId !== this.options.hostId || holder.epoch !== lease.epoch) return false;
    lease.revision = entry.revision;
    lease.renewedAtMs = performance.now();
    return true;
  }

  private async rebalance(): Promise<void> {
    const kv = this.kv;
    if (!kv || this.stopped) return;
    const { hostId, partitions } = this.options;
    const { hosts, leases } = await readLeases(kv);
    this.knownHosts = new Set(hosts);
    const holders = new Map(leases.map((l) => [l.partition, l.hostId]));
    const step = planStep(hostId, partitions, this.takingTheirShare(hosts, holders), holders);
    if (step.release.length > 0) this.options.log.info({ partitions: step.release }, "handing partitions over to balance the hosts");
    await Promise.all(step.release.map((p) => this.release(p, "handoff")));
    const acquired: Array<[number, number]> = [];
    // Leases under this host's id that it does not hold were left by its previous process on this
    // data dir (killed; the data dir claim rules out a live one): taken back at once, under a new
    // epoch, instead of waiting for them to expire.
    for (const lease of leases) {
      if (lease.hostId !== hostId || this.held.has(lease.partition) || this.releasing.has(lease.partition) || this.stopped) continue;
      try {
        const revision = await kv.update(`p.${lease.partition}`, this.value(0), lease.revision);
        this.held.set(lease.partition, { revision, epoch: revision, renewedAtMs: performance.now() });
        acquired.push([lease.partition, revision]);
      } catch {
        // changed meanwhile (expired, or taken): the next round sees how
      }
    }
    for (const p of step.acquire) {
      if (this.stopped) break;
      // A lease that expired in the bucket while NATS was unreachable looks free, but this host still
      // runs its partition: the renewal finds out and releases it first; only then is it taken anew.
      if (this.held.has(p) || this.releasing.has(p) || (this.retryAfter.get(p)?.atMs ?? 0) > performance.now()) continue;
      try {
        const revision = await kv.create(`p.${p}`, this.value(0));
        // The creating revision is the epoch; written into the value on the next renewal.
        this.held.set(p, { revision, epoch: revision, renewedAtMs: performance.now() });
        acquired.push([p, revision]);
      } catch {
        // another host was faster
      }
    }
    await Promise.all(acquired.map(([p, epoch]) => this.acquire(p, epoch)));
    if (acquired.length > 0) this.options.log.info({ partitions: acquired.map(([p]) => p), hosts: hosts.length }, "partitions acquired");
  }

  /**
   * The hosts to share the partitions among: all live ones, unless partitions stayed without a lease
   * for long (a lease TTL) while some host held none. Such a host is a member but serves nothing
   * (seen after NATS was paused; why it stopped taking partitions is not known yet); the others take
   * its share rather than leave partitions unserved, and give it back once it holds partitions again.
   */
  private takingTheirShare(hosts: readonly string[], holders: ReadonlyMap<number, string>): readonly string[] {
    const now = performance.now();
    for (let p = 0; p < this.options.partitions; p++) {
      if (holders.has(p)) this.freeSince.delete(p);
      else if (!this.freeSince.has(p)) this.freeSince.set(p, now);
    }
    const orphaned = [...this.freeSince.values()].some((since) => now - since >= this.options.leaseTtlMs);
    if (!orphaned) return hosts;
    const serving = new Set(holders.values());
    const idle = hosts.filter((h) => h !== this.options.hostId && !serving.has(h));
    if (idle.length > 0) this.options.log.warn({ idle }, "partitions stayed without an owner while these hosts served none: sharing them among the others");
    return hosts.filter((h) => h === this.options.hostId || serving.has(h));
  }

  private async acquire(partition: number, epoch: number): Promise<void> {
    try {
      await this.handlers?.acquire(partition, epoch);
      this.retryAfter.delete(partition);
    } catch (err) {
      if (this.held.get(partition)?.epoch !== epoch) return; // lost while starting; already released
      const failures = (this.retryAfter.get(partition)?.failures ?? 0) + 1;
      const backoffMs = Math.min(30_000, 500 * 2 ** (failures - 1));
      this.retryAfter.set(partition, { atMs: performance.now() + backoffMs, failures });
      this.options.log.error({ err, partition, retryInMs: backoffMs }, "could not start a partition; giving its lease back");
      await this.release(partition, "handoff");
    }
  }

  private release(partition: number, how: "handoff" | "lost"): Promise<void> {
    const lease = this.held.get(partition);
    if (!lease) return this.releasing.get(partition)?.done ?? Promise.resolve();
    this.held.delete(partition);
    const done = (async () => {
      try {
        await this.handlers?.release(partition, how);
        // Deleted only after the partition stopped: until then nobody else may take it.
        await this.kv?.delete(`p.${partition}`, { previousSeq: lease.revision }).catch(() => undefined);
      } catch (err) {
        this.options.log.error({ err, partition }, "stopping a partition failed");
      } finally {
        this.releasing.delete(partition);
      }
    })();
    this.releasing.set(partition, { lease, done });
    return done;
  }
}
