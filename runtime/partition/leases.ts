import type { KV, NatsConnection } from "nats";
import type { Logger } from "pino";
import { namespaceToken } from "../../sdk/internal.js";
import { isWrongLastSequence } from "../transport/index.js";
import { planStep } from "./assignment.js";
import type { OwnershipHandlers, PartitionOwnership } from "./ownership.js";

export interface LeaseOptions {
  nc: NatsConnection;
  namespace: string;
  hostId: string;
  partitions: number;
  /** A lease or membership entry not refreshed for this long is gone. */
  leaseTtlMs: number;
  log: Logger;
}

interface Lease {
  revision: number;
  epoch: number;
  renewedAtMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseHolder(value: Uint8Array): string | undefined {
  try {
    const parsed = JSON.parse(decoder.decode(value)) as { hostId?: unknown };
    return typeof parsed.hostId === "string" ? parsed.hostId : undefined;
  } catch {
    return undefined;
  }
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
 * A lease whose renewal has not succeeded for 80% of the TTL is given up here before it can
 * expire and be taken elsewhere; that is a clock-based guard. The fence that makes a paused host
 * harmless is the changelog's conditional append (scale-out issue), not this.
 */
export class LeaseOwnership implements PartitionOwnership {
  private readonly held = new Map<number, Lease>();
  private kv: KV | undefined;
  private handlers: OwnershipHandlers | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  async start(handlers: OwnershipHandlers): Promise<void> {
    this.handlers = handlers;
    const bucket = `${namespaceToken(this.options.namespace)}_leases`;
    this.kv = await this.options.nc.jetstream().views.kv(bucket, { ttl: this.options.leaseTtlMs, history: 1 });
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((err: unknown) => this.options.log.warn({ err }, "lease round failed"))
        .finally(() => (this.ticking = undefined));
    }, Math.max(50, Math.floor(this.options.leaseTtlMs / 3)));
  }

  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Hands every partition over: stop processing, then delete the lease so another host takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    await Promise.all(this.owned().map((p) => this.release(p, "handoff")));
    await this.kv?.delete(`h.${this.options.hostId}`).catch(() => undefined);
  }

  private value(epoch: number): Uint8Array {
    return encoder.encode(JSON.stringify({ hostId: this.options.hostId, epoch }));
  }

  private async tick(): Promise<void> {
    const kv = this.kv;
    const handlers = this.handlers;
    if (!kv || !handlers || this.stopped) return;
    const { hostId, partitions, leaseTtlMs, log } = this.options;
    await kv.put(`h.${hostId}`, encoder.encode(JSON.stringify({ hostId })));

    const now = Date.now();
    for (const [p, lease] of this.held) {
      try {
        lease.revision = await kv.update(`p.${p}`, this.value(lease.epoch), lease.revision);
        lease.renewedAtMs = Date.now();
      } catch (error) {
        if (isWrongLastSequence(error) || now - lease.renewedAtMs > leaseTtlMs * 0.8) {
          log.error({ err: error, partition: p, epoch: lease.epoch }, "partition lease lost");
          this.held.delete(p);
          await handlers.release(p, "lost");
        }
      }
    }

    const hosts: string[] = [];
    const holders = new Map<number, string>();
    // Collect the keys first: awaiting other requests while the key lister runs loses keys.
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== "PUT") continue;
      const holder = parseHolder(entry.value);
      if (!holder) continue;
      if (key.startsWith("h.")) hosts.push(holder);
      else if (key.startsWith("p.")) holders.set(Number(key.slice(2)), holder);
    }
    const step = planStep(hostId, partitions, hosts.sort(), holders);
    for (const p of step.release) await this.release(p, "handoff");
    for (const p of step.acquire) {
      if (this.stopped) return;
      let revision: number;
      try {
        revision = await kv.create(`p.${p}`, this.value(0));
      } catch {
        continue; // another host was faster
      }
      // The creating revision is the epoch; written into the value on the next renewal.
      this.held.set(p, { revision, epoch: revision, renewedAtMs: Date.now() });
      try {
        await handlers.acquire(p, revision);
      } catch (err) {
        log.error({ err, partition: p }, "could not start a partition; giving its lease back");
        await this.release(p, "handoff");
      }
    }
  }

  private async release(partition: number, how: "handoff" | "lost"): Promise<void> {
    const lease = this.held.get(partition);
    if (!lease) return;
    this.held.delete(partition);
    await this.handlers?.release(partition, how);
    // Deleted only after the partition stopped: until then nobody else may take it.
    await this.kv?.delete(`p.${partition}`, { previousSeq: lease.revision }).catch(() => undefined);
  }
}
