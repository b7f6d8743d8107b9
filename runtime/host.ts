import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as natsConnect } from "nats";
import type { Logger } from "pino";
import { type CairnClient, connect } from "../sdk/client/index.js";
import { JetStreamPublisher } from "../sdk/internal.js";
import { type HostOptions, parseHostOptions } from "./config.js";
import { DEFAULT_RETRY_POLICY, Registry, resolveRetryPolicy } from "./invoke/index.js";
import { OutboxRelay } from "./outbox/index.js";
import { ConfigError } from "./errors.js";
import { withDeadline } from "./timing.js";
import { type PartitionOwnership, PartitionWorker, StaticOwnership, acquireHostLock } from "./partition/index.js";
import { Store, claimDataDir } from "./store/index.js";
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
  const abort = new AbortController();
  const grace = (work: Promise<unknown>) => withDeadline(work, config.shutdownGraceMs);
  // Everything started is stopped in reverse order, by close() or by a start that fails half-way.
  const stack: Array<() => Promise<void> | void> = [];
  const unwind = async () => {
    for (const stop of stack.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        hostLog.warn({ err }, "error while stopping");
      }
    }
  };
  let closing: Promise<void> | undefined;
  let lostLock = false;
  let started = false;
  const close = () =>
    (closing ??= (async () => {
      await unwind();
      hostLog.info("host closed");
    })());

  try {
    mkdirSync(config.dataDir, { recursive: true });
    stack.push(claimDataDir(config.dataDir));
    const store = new Store(config.dataDir);
    stack.push(() => store.close());
    const nc = await natsConnect({ servers: config.nats.servers, name: "cairn-host", maxReconnectAttempts: -1 });
    stack.push(async () => {
      // A drain can wait forever on a server that is gone; close() does not.
      await grace(nc.drain().catch(() => undefined));
      if (!nc.isClosed()) await nc.close();
    });
    const hostId = readOrCreateHostId(config.dataDir);
    const lock = await acquireHostLock({
      nc,
      namespace: config.namespace,
      hostId,
      ttlMs: config.leaseTtlMs,
      waitMs: config.leaseTtlMs + 1000,
      log: hostLog,
      onLost: () => {
        // Another host serves the namespace now: stop at once, not after a grace period.
        lostLock = true;
        abort.abort();
        // While starting, the start itself notices and fails.
        if (started) close().catch((err: unknown) => hostLog.error({ err }, "close after losing the host lock failed"));
      },
    });
    stack.push(() => lock.release());
    const jsm = await nc.jetstreamManager();
    const stream = await ensureInboxStream(jsm, config.namespace, config.partitions);
    const publisher = new JetStreamPublisher(nc);
    stack.push(() => publisher.close());
    const relay = new OutboxRelay(publisher, store, log.child({ component: "outbox" }));
    stack.push(async () => {
      // Whatever the relay cannot publish in time stays in the outbox and goes out at the next start.
      await grace(relay.drain());
      relay.stop();
    });
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
    const workers = new Map<number, PartitionWorker>();
    const ownership: PartitionOwnership = new StaticOwnership(config.partitions);
    stack.push(async () => {
      // Stop consuming first; invocations still running after the grace period are abandoned
      // unacked, in order, and run again by the partition's next owner.
      const timer = setTimeout(() => abort.abort(), config.shutdownGraceMs);
      await ownership.stop();
      // Workers that started before a failed start, never handed to ownership.
      await Promise.all([...workers.values()].map((w) => w.stop(0)));
      clearTimeout(timer);
      abort.abort();
    });
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
    const sweep = setInterval(() => void sweepCompletions(store, hostLog), EXPIRY_SWEEP_MS);
    sweep.unref();
    stack.push(() => clearInterval(sweep));
    const client = await connect({ servers: config.nats.servers, namespace: config.namespace });
    stack.push(() => client.close());
    if (lostLock) throw new ConfigError(`namespace "${config.namespace}": the host lock was lost while starting`);
    started = true;
    hostLog.info({ hostId, partitions: ownership.owned().length, services: registry.names(), dataDir: config.dataDir }, "host started");
    return { client, ownedPartitions: () => ownership.owned(), close };
  } catch (error) {
    abort.abort();
    await unwind();
    throw error;
  }
}

/** Drops expired completion records, as many passes as it takes. */
async function sweepCompletions(store: Store, log: Logger): Promise<void> {
  try {
    while ((await store.expireCompletions(Date.now())) > 0) {
      // A full pass may leave more; go on until one finds nothing.
    }
  } catch (err) {
    log.warn({ err }, "completion expiry sweep failed");
  }
}
