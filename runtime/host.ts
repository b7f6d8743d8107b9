import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as natsConnect } from "nats";
import type { Logger } from "pino";
import { type CairnClient, connect } from "../sdk/client/index.js";
import { JetStreamPublisher, natsClientOptions } from "../sdk/internal.js";
import { type HostOptions, parseHostOptions } from "./config.js";
import { DEFAULT_RETRY_POLICY, Registry, resolveRetryPolicy } from "./invoke/index.js";
import { OutboxRelay } from "./outbox/index.js";
import { withDeadline } from "./timing.js";
import { SnapshotStore, ensureLogStream } from "./changelog/index.js";
import { LeaseOwnership, type PartitionLease, PartitionWorker, WorkerCensus } from "./partition/index.js";
import { Store, claimDataDir } from "./store/index.js";
import { ensureInboxStream } from "./transport/index.js";

/** A running host. */
export interface Host {
  /** This host's id, kept in its data dir: a restart on the same data dir is the same host. */
  readonly hostId: string;
  /** A client bound to the same NATS servers, for calls from the host's own process. */
  readonly client: CairnClient;
  /** The partitions this host processes now. */
  ownedPartitions(): number[];
  /** Which host holds each partition's lease, and its epoch, as the lease bucket says now. */
  assignment(): Promise<PartitionLease[]>;
  /**
   * Stops taking work, lets in-flight invocations finish (within `shutdownGraceMs`), flushes the
   * outbox, hands its partitions over to the other hosts and disconnects.
   */
  close(): Promise<void>;
}

/** Room for the headers of a changelog entry within the server's max_payload. */
const ENTRY_HEADROOM_BYTES = 4096;

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
  const close = () =>
    (closing ??= (async () => {
      await unwind();
      hostLog.info("host closed");
    })());

  try {
    mkdirSync(config.dataDir, { recursive: true });
    stack.push(claimDataDir(config.dataDir));
    const store = new Store(config.dataDir, log.child({ component: "store" }));
    stack.push(() => store.close());
    const nc = await natsConnect(natsClientOptions(config.nats, "cairn-host"));
    stack.push(async () => {
      // A drain can wait forever on a server that is gone; close() does not.
      await grace(nc.drain().catch(() => undefined));
      if (!nc.isClosed()) await nc.close();
    });
    const hostId = readOrCreateHostId(config.dataDir);
    const jsm = await nc.jetstreamManager();
    const stream = await ensureInboxStream(jsm, config.namespace, config.partitions, config.replicas);
    await ensureLogStream(jsm, config.namespace, config.replicas);
    const js = nc.jetstream();
    const snapshots = await SnapshotStore.open(js, config.namespace, config.replicas);
    // A PubAck missing for 3 s most likely went down with a NATS node: appends and sends find out
    // whether the message landed and retry, instead of waiting out a longer timeout.
    const publisher = new JetStreamPublisher(nc, { ackTimeoutMs: 3000, inboxPrefix: config.nats.inboxPrefix });
    stack.push(() => publisher.close());
    const relay = new OutboxRelay(publisher, store, log.child({ component: "outbox" }));
    stack.push(async () => {
      // Whatever the relay cannot publish in time stays in the outbox and goes out at the next start.
      await grace(relay.drain());
      relay.stop();
    });
    const workers = new Map<number, PartitionWorker>();
    const census = new WorkerCensus();
    // Workers being stopped: a partition's next worker starts only once its previous one is gone.
    const retiring = new Map<number, Promise<void>>();
    const retire = (worker: PartitionWorker, graceMs: number): Promise<void> => {
      const { partition } = worker;
      if (workers.get(partition) === worker) workers.delete(partition);
      const done = worker.stop(graceMs).finally(() => {
        if (retiring.get(partition) === done) retiring.delete(partition);
      });
      retiring.set(partition, done);
      return done;
    };
    const ownership = new LeaseOwnership({
      nc,
      namespace: config.namespace,
      hostId,
      partitions: config.partitions,
      leaseTtlMs: config.leaseTtlMs,
      replicas: config.replicas,
      log: log.child({ component: "leases" }),
    });
    const deps = {
      nc,
      js,
      jsm,
      stream,
      store,
      snapshots,
      publisher,
      relay,
      hostId,
      maxEntryBytes: nc.info ? nc.info.max_payload - ENTRY_HEADROOM_BYTES : 1024 * 1024 - ENTRY_HEADROOM_BYTES,
      onFenced: (partition: number, epoch: number) => void ownership.drop(partition, epoch),
      registry,
      census,
      config,
      retryPolicy: resolveRetryPolicy(DEFAULT_RETRY_POLICY, config.retryPolicy),
      signal: abort.signal,
      log,
    };
    stack.push(async () => {
      // Stop consuming first; invocations still running after the grace period are abandoned
      // unacked, in order, and run again by the partition's next owner.
      const timer = setTimeout(() => abort.abort(), config.shutdownGraceMs);
      // Bounded: with NATS unreachable, a partition's start or a lease delete could wait for long.
      await withDeadline(ownership.stop(), 2 * config.shutdownGraceMs + config.leaseTtlMs);
      // Workers that started before a failed start, never handed to ownership.
      await Promise.all([...[...workers.values()].map((w) => retire(w, 0)), ...retiring.values()]);
      clearTimeout(timer);
      abort.abort();
    });
    await ownership.start({
      acquire: async (partition, epoch) => {
        const previous = workers.get(partition);
        if (previous) {
          // The lease layer never does this; should it, two consume loops would fight over one inbox.
          hostLog.error({ partition, epoch, previousEpoch: previous.epoch }, "partition acquired while an earlier worker still runs; stopping that one first");
          void retire(previous, 0);
        }
        // Bounded: a stop that never settles must not hold up this host's rebalancing for good;
        // the lease is given back and tried again with backoff.
        const deadline = Date.now() + 2 * config.shutdownGraceMs + config.leaseTtlMs;
        while (retiring.has(partition) && Date.now() < deadline) await withDeadline(retiring.get(partition) ?? Promise.resolve(), deadline - Date.now());
        if (retiring.has(partition) || census.count(partition) > 0) {
          throw new Error(`partition ${partition}: a worker of an earlier epoch is still running; not starting epoch ${epoch} beside it`);
        }
        const worker = new PartitionWorker(partition, epoch, deps);
        workers.set(partition, worker);
        try {
          await worker.start();
        } catch (error) {
          await retire(worker, 0);
          throw error;
        }
        hostLog.debug({ partition, epoch }, "partition acquired");
      },
      release: async (partition, how) => {
        const worker = workers.get(partition);
        if (!worker) return retiring.get(partition);
        await retire(worker, how === "lost" ? 0 : config.shutdownGraceMs);
        // A handoff publishes the partition's committed sends before its lease goes; the next owner
        // would publish them too (deduplicated), only later.
        if (how === "handoff") await grace(relay.drainPartition(partition));
        hostLog.debug({ partition, epoch: worker.epoch, how }, "partition released");
      },
    });
    const sweep = setInterval(() => void sweepCompletions(store, hostLog), EXPIRY_SWEEP_MS);
    sweep.unref();
    stack.push(() => clearInterval(sweep));
    const client = await connect({ ...config.nats, namespace: config.namespace });
    stack.push(() => client.close());
    hostLog.info({ hostId, partitions: ownership.owned().length, services: registry.names(), dataDir: config.dataDir }, "host started");
    return { hostId, client, ownedPartitions: () => ownership.owned(), assignment: () => ownership.assignment(), close };
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
