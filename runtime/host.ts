import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type NatsConnection, connect as natsConnect } from "nats";
import { type CairnClient, connect } from "../sdk/client/index.js";
import { JetStreamPublisher } from "../sdk/internal.js";
import { type HostOptions, parseHostOptions } from "./config.js";
import { DEFAULT_RETRY_POLICY, Registry, resolveRetryPolicy } from "./invoke/index.js";
import { OutboxRelay } from "./outbox/index.js";
import { type HostLock, type PartitionOwnership, PartitionWorker, StaticOwnership, acquireHostLock } from "./partition/index.js";
import { Store } from "./store/index.js";
import { ensureInboxStream } from "./transport/index.js";

/** A running host. */
export interface Host {
  /** A client bound to the same NATS servers, for calls from the host's own process. */
  readonly client: CairnClient;
  /** The partitions this host processes now. */
  ownedPartitions(): number[];
  /** Stops taking work, lets in-flight invocations finish, flushes the outbox and disconnects. */
  close(): Promise<void>;
}

const EXPIRY_SWEEP_MS = 60_000;

/** The host's identity lives with its data: a restart on the same data dir is the same host. */
function readOrCreateHostId(dataDir: string): string {
  const file = join(dataDir, "host-id");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const id = `host-${randomUUID()}`;
  writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * Starts a host serving `services`: creates or checks the inbox stream, takes its partitions and
 * runs their invocations until `close()`.
 *
 * @example
 * const host = await startHost({ services: [shoppingCart], dataDir: ".cairn/host-1", nats: { servers: "nats://127.0.0.1:4222" } });
 */
export async function startHost(options: HostOptions): Promise<Host> {
  const config = parseHostOptions(options);
  const log = config.logger;
  const hostLog = log.child({ component: "host" });
  const registry = new Registry(config.services);
  mkdirSync(config.dataDir, { recursive: true });
  const store = new Store(config.dataDir);
  const abort = new AbortController();
  const workers = new Map<number, PartitionWorker>();
  const ownership: PartitionOwnership = new StaticOwnership(config.partitions);
  let nc: NatsConnection | undefined;
  let lock: HostLock | undefined;
  let closeHost: (() => Promise<void>) | undefined;
  try {
    nc = await natsConnect({ servers: config.nats.servers, name: "cairn-host", maxReconnectAttempts: -1 });
    const hostId = readOrCreateHostId(config.dataDir);
    lock = await acquireHostLock({
      nc,
      namespace: config.namespace,
      hostId,
      ttlMs: config.leaseTtlMs,
      waitMs: config.leaseTtlMs + 1000,
      log: hostLog,
      onLost: () => {
        // Another host serves the namespace now: stop at once, not after a grace period.
        abort.abort();
        void closeHost?.();
      },
    });
    const jsm = await nc.jetstreamManager();
    const stream = await ensureInboxStream(jsm, config.namespace, config.partitions);
    const publisher = new JetStreamPublisher(nc);
    const relay = new OutboxRelay(publisher, store, log.child({ component: "outbox" }));
    const deps = {
      nc,
      js: nc.jetstream(),
      jsm,
      stream,
      store,
      relay,
      registry,
      config,
      retryPolicy: resolveRetryPolicy(DEFAULT_RETRY_POLICY, config.retryPolicy),
      signal: abort.signal,
      log,
    };
    await ownership.start({
      acquire: async (partition) => {
        const worker = new PartitionWorker(partition, deps);
        workers.set(partition, worker);
        await worker.start();
      },
      release: async (partition, how) => {
        await workers.get(partition)?.stop(how === "lost" ? 0 : config.shutdownGraceMs);
        workers.delete(partition);
      },
    });
    const sweep = setInterval(() => {
      store.expireCompletions(Date.now()).catch((err: unknown) => hostLog.warn({ err }, "completion expiry sweep failed"));
    }, EXPIRY_SWEEP_MS);
    sweep.unref();
    const client = await connect({ servers: config.nats.servers, namespace: config.namespace, partitions: config.partitions });
    hostLog.info({ hostId, partitions: ownership.owned().length, services: registry.names(), dataDir: config.dataDir }, "host started");

    const connection = nc;
    const heldLock = lock;
    let closing: Promise<void> | undefined;
    closeHost = () =>
      (closing ??= (async () => {
        clearInterval(sweep);
        await client.close();
        // Stop consuming first; invocations still backing off after the grace period are
        // abandoned unacked and run again by the partition's next owner.
        const stopping = ownership.stop();
        setTimeout(() => abort.abort(), config.shutdownGraceMs).unref();
        await stopping;
        abort.abort();
        // Whatever the relay cannot publish in time stays in the outbox and goes out at the next start.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([relay.drain(), new Promise((resolve) => (timer = setTimeout(resolve, config.shutdownGraceMs)))]);
        clearTimeout(timer);
        relay.stop();
        publisher.close();
        await heldLock.release();
        await connection.drain();
        await store.close();
        hostLog.info("host closed");
      })());
    return { client, ownedPartitions: () => ownership.owned(), close: closeHost };
  } catch (error) {
    abort.abort();
    await ownership.stop().catch(() => undefined);
    await lock?.release().catch(() => undefined);
    // Workers that started before the failure, but were never handed to ownership.
    await Promise.all([...workers.values()].map((w) => w.stop(0).catch(() => undefined)));
    await nc?.close().catch(() => undefined);
    await store.close();
    throw error;
  }
}
