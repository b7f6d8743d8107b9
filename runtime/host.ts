import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { CairnClient } from "../sdk/client/index.js";
import { type Clock, systemClock } from "./clock.js";
import { type HostOptions, parseHostOptions } from "./config.js";
import type { HostTransport, TransportContext } from "./host-transport.js";
import { targetInvoker } from "../sdk/internal.js";
import { HostMetrics, Inspector, type Readiness, startAdmin } from "./admin/index.js";
import { startIngress } from "./ingress/index.js";
import { DEFAULT_RETRY_POLICY, Registry, resolveRetryPolicy } from "./invoke/index.js";
import { type PartitionLease, PartitionProcessor, type PartitionWorker, type ProcessorFactory, WorkerCensus } from "./partition/index.js";
import { Store, claimDataDir } from "./store/index.js";
import { withDeadline } from "./timing.js";
import { localTransport } from "./transport/local/index.js";
import { natsTransport } from "./transport/nats/index.js";

/** A running host. */
export interface Host {
  /** This host's id, kept in its data dir: a restart on the same data dir is the same host. */
  readonly hostId: string;
  /** A client bound to this host: over the same NATS servers, or in process in embedded mode. */
  readonly client: CairnClient;
  /** `"embedded"` without `nats` (one process, no server), else `"nats"`. */
  readonly mode: "embedded" | "nats";
  /** Where the HTTP ingress listens (`http://127.0.0.1:8080`), when the host has one (option `ingress`). */
  readonly ingressUrl: string | undefined;
  /** Where the admin endpoint listens (`http://127.0.0.1:9070`), when the host has one (option `admin`). */
  readonly adminUrl: string | undefined;
  /** The partitions this host processes now. */
  ownedPartitions(): number[];
  /** Which host holds each partition, and its epoch (in embedded mode: this one, all of them). */
  assignment(): Promise<PartitionLease[]>;
  /**
   * Stops taking work, lets in-flight invocations finish (within `shutdownGraceMs`), flushes the
   * outbox, hands its partitions over to the other hosts and disconnects.
   */
  close(): Promise<void>;
}

/** What `cairn/testing` needs beyond the public host: its clock, and a way to wait for quiet. */
export interface HostInternals {
  clock?: Clock;
}

export interface InternalHost extends Host {
  /** Resolves once no partition has anything queued, running, or being committed. */
  idle(): Promise<void>;
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
 * Starts a host serving `services`. Without `nats`, in embedded mode: no server, this process owns
 * every partition. With `nats`, it creates or checks the namespace's streams, takes its share of the
 * partitions and runs their invocations until `close()`.
 *
 * @example
 * const host = await startHost({ services: [shoppingCart], dataDir: ".cairn/host-1" });
 */
export function startHost(options: HostOptions): Promise<Host> {
  return startHostWith(options, {});
}

/** {@link startHost}, with what `cairn/testing` supplies. Internal. */
export async function startHostWith(options: HostOptions, internals: HostInternals): Promise<InternalHost> {
  const config = parseHostOptions(options);
  const log = config.logger;
  const hostLog = log.child({ component: "host" });
  const clock = internals.clock ?? systemClock;
  const registry = new Registry(config.services);
  const abort = new AbortController();
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
  let readiness: Readiness = "starting";
  const close = () =>
    (closing ??= (async () => {
      readiness = "closing";
      await unwind();
      hostLog.info("host closed");
    })());

  try {
    mkdirSync(config.dataDir, { recursive: true });
    stack.push(claimDataDir(config.dataDir));
    const embedded = config.nats === undefined;
    const store = new Store(config.dataDir, { sync: embedded, routing: embedded ? "inbox" : "outbox", log: log.child({ component: "store" }) });
    stack.push(() => store.close());
    if (embedded) store.checkPartitions(config.partitions);
    const hostId = readOrCreateHostId(config.dataDir);
    const census = new WorkerCensus();
    const metrics = new HostMetrics();
    const context: TransportContext = { config, store, hostId, census, clock, signal: abort.signal, stack, log, onChangelogAppend: metrics.changelogAppended };
    const transport: HostTransport = config.nats ? await natsTransport(context, config.nats) : localTransport(context);
    const retryPolicy = resolveRetryPolicy(DEFAULT_RETRY_POLICY, config.retryPolicy);
    // The latest processor of each partition: the admin endpoint reads the invocations they hold in memory.
    const processors = new Map<number, PartitionProcessor>();
    const processor: ProcessorFactory = (ports) => {
      const made = new PartitionProcessor({ ...ports, registry, config, retryPolicy, store, router: transport.router, replier: transport.replier, clock, observer: metrics.observer });
      processors.set(ports.partition, made);
      return made;
    };
    const mode = embedded ? "embedded" : "nats";
    const inspector = new Inspector({
      hostId,
      mode,
      partitions: config.partitions,
      store,
      registry,
      owned: () => transport.ownership.owned(),
      assignment: () => transport.ownership.assignment(),
      live: (partition) => processors.get(partition)?.liveInvocations() ?? [],
      stats: (partitions) => transport.stats(partitions),
      readiness: () => readiness,
    });
    metrics.attach(inspector);
    await transport.serveAdmin(inspector);
    let adminUrl: string | undefined;
    if (config.admin) {
      // Before the partitions start, so that /health says "starting" meanwhile; stopped after them.
      const admin = await startAdmin({
        source: inspector,
        metrics: metrics.text,
        // Wired once the client's cancel/kill/resume exist.
        control: undefined,
        port: config.admin.port,
        host: config.admin.host,
        token: config.admin.token,
        logger: log,
      });
      stack.push(() => admin.close());
      adminUrl = admin.url;
    }
    const workers = servePartitions(transport, processor, census, config.shutdownGraceMs, config.leaseTtlMs, hostLog);
    stack.push(async () => {
      // Stop taking work first; invocations still running after the grace period are abandoned
      // unsettled, in order, and run again by the partition's next owner (or at the next start).
      const timer = setTimeout(() => abort.abort(), config.shutdownGraceMs);
      // Bounded: with NATS unreachable, a partition's start or a lease delete could wait for long.
      await withDeadline(transport.ownership.stop(), 2 * config.shutdownGraceMs + config.leaseTtlMs);
      await workers.stopAll();
      clearTimeout(timer);
      abort.abort();
    });
    await transport.ownership.start(workers.handlers);
    let ingressUrl: string | undefined;
    if (config.ingress) {
      const ingress = await startIngress({
        invoker: targetInvoker(transport.client),
        registry,
        port: config.ingress.port,
        host: config.ingress.host,
        maxPayloadBytes: config.maxPayloadBytes,
        token: config.ingress.token,
        logger: log,
      });
      // Stopped first: no new request may reach a host that is closing.
      stack.push(() => ingress.close());
      ingressUrl = ingress.url;
    }
    // A running host keeps its process alive until close(), as a server does: in embedded mode
    // nothing else would (timers' wake-ups do not), and a script's pending delayed sends would wait
    // for its next start.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    stack.push(() => clearInterval(keepAlive));
    const sweep = setInterval(() => void sweepCompletions(store, clock, hostLog), EXPIRY_SWEEP_MS);
    sweep.unref();
    stack.push(() => clearInterval(sweep));
    readiness = "ready";
    hostLog.info({ hostId, mode, ingress: ingressUrl, admin: adminUrl, partitions: transport.ownership.owned().length, services: registry.names(), dataDir: config.dataDir }, "host started");
    return {
      hostId,
      mode,
      ingressUrl,
      adminUrl,
      client: transport.client,
      ownedPartitions: () => transport.ownership.owned(),
      assignment: () => transport.ownership.assignment(),
      idle: () => workers.idle(),
      close,
    };
  } catch (error) {
    abort.abort();
    await unwind();
    throw error;
  }
}

/**
 * The host's partition workers: started when ownership gives it a partition, stopped when it takes
 * it away. A partition's next worker starts only once its previous one is gone.
 */
function servePartitions(transport: HostTransport, processor: ProcessorFactory, census: WorkerCensus, graceMs: number, leaseTtlMs: number, log: Logger) {
  const workers = new Map<number, PartitionWorker>();
  // Workers being stopped, per partition.
  const retiring = new Map<number, Promise<void>>();
  const retire = (worker: PartitionWorker, retireGraceMs: number): Promise<void> => {
    const { partition } = worker;
    if (workers.get(partition) === worker) workers.delete(partition);
    const done = worker.stop(retireGraceMs).finally(() => {
      if (retiring.get(partition) === done) retiring.delete(partition);
    });
    retiring.set(partition, done);
    return done;
  };
  const handlers = {
    acquire: async (partition: number, epoch: number) => {
      const previous = workers.get(partition);
      if (previous) {
        // The lease layer never does this; should it, two consume loops would fight over one inbox.
        log.error({ partition, epoch, previousEpoch: previous.epoch }, "partition acquired while an earlier worker still runs; stopping that one first");
        void retire(previous, 0);
      }
      // Bounded: a stop that never settles must not hold up this host's rebalancing for good;
      // the lease is given back and tried again with backoff.
      const deadline = performance.now() + 2 * graceMs + leaseTtlMs;
      while (retiring.has(partition) && performance.now() < deadline) await withDeadline(retiring.get(partition) ?? Promise.resolve(), deadline - performance.now());
      if (retiring.has(partition) || census.count(partition) > 0) {
        throw new Error(`partition ${partition}: a worker of an earlier epoch is still running; not starting epoch ${epoch} beside it`);
      }
      const worker = transport.worker(partition, epoch, processor);
      workers.set(partition, worker);
      try {
        await worker.start();
      } catch (error) {
        await retire(worker, 0);
        throw error;
      }
      log.debug({ partition, epoch }, "partition acquired");
    },
    release: async (partition: number, how: "handoff" | "lost") => {
      const worker = workers.get(partition);
      if (!worker) return retiring.get(partition);
      await retire(worker, how === "lost" ? 0 : graceMs);
      await transport.released(partition, how);
      log.debug({ partition, epoch: worker.epoch, how }, "partition released");
    },
  };
  return {
    handlers,
    /** Workers that started before a failed start, never handed to ownership, and those still stopping. */
    stopAll: async () => {
      await Promise.all([...[...workers.values()].map((w) => retire(w, 0)), ...retiring.values()]);
    },
    /** Until a whole pass over the workers finds each idle: work moves between partitions. */
    idle: async () => {
      do {
        await Promise.all([...workers.values()].map((worker) => worker.idle()));
        // Let wake-ups scheduled by the last commits run before looking again.
        await new Promise((resolve) => setImmediate(resolve));
      } while ([...workers.values()].some((worker) => worker.busy()));
    },
  };
}

/** Drops expired completion records, as many passes as it takes. */
async function sweepCompletions(store: Store, clock: Clock, log: Logger): Promise<void> {
  try {
    while ((await store.expireCompletions(clock.now())) > 0) {
      // A full pass may leave more; go on until one finds nothing.
    }
  } catch (err) {
    log.warn({ err }, "completion expiry sweep failed");
  }
}
