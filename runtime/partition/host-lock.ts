import { setTimeout as sleep } from "node:timers/promises";
import type { KV, NatsConnection } from "nats";
import type { Logger } from "pino";
import { namespaceToken } from "../../sdk/internal.js";
import { ConfigError } from "../errors.js";
import { isWrongLastSequence } from "../transport/index.js";

const OWNER_KEY = "owner";

interface OwnerRecord {
  hostId: string;
  sinceMs: number;
}

export interface HostLock {
  /** Stops the heartbeat and frees the lock at once, for the next host. */
  release(): Promise<void>;
}

function decodeOwner(value: Uint8Array): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(value)) as Partial<OwnerRecord>;
    return typeof parsed.hostId === "string" && typeof parsed.sinceMs === "number" ? { hostId: parsed.hostId, sinceMs: parsed.sinceMs } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Until partitions are leased one by one (scale-out), one host serves a namespace: its partitions'
 * state lives in that host's data dir. The lock is a key in a JetStream KV bucket whose entries
 * expire after `ttlMs` unless the holder refreshes them.
 *
 * A host restarted on the same data dir (same host id) takes its lock back at once; any other
 * host waits up to `waitMs` for the holder to release it or stop refreshing it, then gives up.
 */
export async function acquireHostLock(options: {
  nc: NatsConnection;
  namespace: string;
  hostId: string;
  ttlMs: number;
  waitMs: number;
  log: Logger;
  onLost(): void;
}): Promise<HostLock> {
  const { hostId, ttlMs, log } = options;
  const bucket = `${namespaceToken(options.namespace)}_hosts`;
  const kv: KV = await options.nc.jetstream().views.kv(bucket, { ttl: ttlMs, history: 1 });
  const value = new TextEncoder().encode(JSON.stringify({ hostId, sinceMs: Date.now() } satisfies OwnerRecord));
  const deadline = Date.now() + options.waitMs;
  let revision: number | undefined;
  let holder: OwnerRecord | undefined;
  while (revision === undefined) {
    const entry = await kv.get(OWNER_KEY);
    holder = entry && entry.operation === "PUT" ? decodeOwner(entry.value) : undefined;
    try {
      if (!entry || entry.operation !== "PUT") revision = await kv.create(OWNER_KEY, value);
      else if (holder?.hostId === hostId) revision = await kv.update(OWNER_KEY, value, entry.revision);
    } catch {
      // Another host moved first; look again.
    }
    if (revision !== undefined) break;
    if (Date.now() > deadline) {
      throw new ConfigError(
        `namespace "${options.namespace}" is served by host ${holder?.hostId ?? "(unknown)"} ` +
          `since ${holder ? new Date(holder.sinceMs).toISOString() : "(unknown)"}; one host serves a namespace until ` +
          `partitions are leased across hosts. Stop it, or start this host on the same dataDir to replace it.`,
      );
    }
    await sleep(Math.min(250, ttlMs / 4));
  }

  let stopped = false;
  let refreshing: Promise<void> | undefined;
  /**
   * Refreshes the lock. A refresh refused for a stale revision is not proof of loss: the previous
   * refresh may have landed with its answer lost. Only a record naming another host is.
   */
  const refresh = async (): Promise<void> => {
    try {
      revision = await kv.update(OWNER_KEY, value, revision as number);
      return;
    } catch (err) {
      if (!isWrongLastSequence(err)) {
        log.warn({ err }, "host lock refresh failed; retrying");
        return;
      }
    }
    const entry = await kv.get(OWNER_KEY);
    const current = entry && entry.operation === "PUT" ? decodeOwner(entry.value) : undefined;
    if (entry && current?.hostId === hostId) {
      revision = entry.revision;
      return;
    }
    if (!current) {
      // Expired during an outage and nobody took it: take it again.
      revision = await kv.create(OWNER_KEY, value);
      log.warn("host lock had expired; taken again");
      return;
    }
    stopped = true;
    clearInterval(heartbeat);
    log.error({ holder: current.hostId }, "host lock lost: another host took this namespace; stopping");
    options.onLost();
  };
  const heartbeat = setInterval(() => {
    if (stopped || refreshing) return;
    refreshing = refresh()
      .catch((err: unknown) => log.warn({ err }, "host lock refresh failed; retrying"))
      .finally(() => (refreshing = undefined));
  }, Math.max(100, Math.floor(ttlMs / 3)));

  return {
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(heartbeat);
      await refreshing;
      await kv.delete(OWNER_KEY, revision === undefined ? undefined : { previousSeq: revision }).catch(() => undefined);
    },
  };
}
