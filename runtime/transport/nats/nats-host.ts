import { performance } from "node:perf_hooks";
import { type JetStreamManager, type NatsConnection as Connection, connect as natsConnect } from "nats";
import { connect } from "../../../sdk/client/index.js";
import { JetStreamPublisher, natsClientOptions } from "../../../sdk/internal.js";
import type { HostTransport, TransportContext } from "../../host-transport.js";
import { withDeadline } from "../../timing.js";
import { SnapshotStore, ensureLogStream } from "./changelog/index.js";
import { LeaseOwnership } from "./leases.js";
import { NamespaceRecord } from "./namespace-record.js";
import { NatsPartition } from "./nats-partition.js";
import { OutboxRelay } from "./outbox-relay.js";
import { NatsReplier, RelayRouter } from "./replier.js";
import { ensureInboxStream } from "./streams.js";
import { requireJetStream } from "./jetstream-check.js";
import { serveControl } from "./control-responder.js";
import { serveAdminQueries } from "./admin-responder.js";
import { logStreamName, logSubject } from "./changelog/index.js";
import type { TransportStats } from "../../admin/index.js";
import { inboxSubject } from "../../../sdk/internal.js";
import type { NatsConnection } from "../../../sdk/internal.js";

/** Room for the headers of a changelog entry within the server's max_payload. */
const ENTRY_HEADROOM_BYTES = 4096;

/**
 * NATS mode: connects, creates or checks the inbox stream, the changelog stream and the snapshot
 * store, and serves the partitions whose leases this host holds.
 */
export async function natsTransport(context: TransportContext, nats: NatsConnection): Promise<HostTransport> {
  const { config, registry, store, hostId, census, stack, log, signal } = context;
  const grace = (work: Promise<unknown>) => withDeadline(work, config.shutdownGraceMs);
  const nc = await natsConnect(natsClientOptions(nats, "cairn-host"));
  stack.push(async () => {
    // A drain can wait forever on a server that is gone; close() does not.
    await grace(nc.drain().catch(() => undefined));
    if (!nc.isClosed()) await nc.close();
  });
  const connectionTroubled = watchConnection(nc, Math.max(30_000, 6 * config.leaseTtlMs));
  const jsm = await requireJetStream(nc);
  const stream = await ensureInboxStream(jsm, config.namespace, config.partitions, config.replicas);
  await ensureLogStream(jsm, config.namespace, config.replicas);
  // Before taking any partition: a host that serves other things than the namespace must not run its messages.
  const namespaceRecord = await NamespaceRecord.join({
    nc,
    namespace: config.namespace,
    served: registry.describe(),
    change: config.namespaceChange,
    replicas: config.replicas,
    log: log.child({ component: "namespace" }),
  });
  stack.push(() => namespaceRecord.stop());
  const js = nc.jetstream();
  const snapshots = await SnapshotStore.open(js, config.namespace, config.replicas);
  // A PubAck missing for 3 s most likely went down with a NATS node: appends and sends find out
  // whether the message landed and retry, instead of waiting out a longer timeout.
  const publisher = new JetStreamPublisher(nc, { ackTimeoutMs: 3000, inboxPrefix: nats.inboxPrefix });
  stack.push(() => publisher.close());
  const relay = new OutboxRelay(publisher, store, config.namespace, log.child({ component: "outbox" }));
  stack.push(async () => {
    // Whatever the relay cannot publish in time stays in the outbox and goes out at the next start.
    await grace(relay.drain());
    relay.stop();
  });
  const ownership = new LeaseOwnership({
    nc,
    namespace: config.namespace,
    hostId,
    partitions: config.partitions,
    leaseTtlMs: config.leaseTtlMs,
    replicas: config.replicas,
    log: log.child({ component: "leases" }),
  });
  const client = await connect({ ...nats, namespace: config.namespace });
  stack.push(() => client.close());
  serveControl(nc, config.namespace, context.control, log.child({ component: "control" }));
  const maxEntryBytes = (nc.info?.max_payload ?? 1024 * 1024) - ENTRY_HEADROOM_BYTES;
  return {
    ownership,
    router: new RelayRouter(relay),
    replier: new NatsReplier(nc, log.child({ component: "replies" })),
    unserved: namespaceRecord,
    client,
    worker: (partition, epoch, processor) =>
      new NatsPartition(partition, epoch, {
        nc,
        js,
        jsm,
        stream,
        store,
        snapshots,
        publisher,
        relay,
        hostId,
        maxEntryBytes,
        onFenced: (p, e) => void ownership.drop(p, e),
        onAppend: context.onChangelogAppend,
        census,
        connectionTroubled,
        config,
        processor,
        signal,
        log,
      }),
    // A handoff publishes the partition's committed sends before its lease goes; the next owner
    // would publish them too (deduplicated), only later.
    released: async (partition, how) => {
      if (how === "handoff") await grace(relay.drainPartition(partition));
    },
    stats: (partitions) => partitionStats(jsm, config.namespace, stream, partitions),
    serveAdmin: async (source) => {
      const stop = serveAdminQueries(nc, config.namespace, hostId, source, log.child({ component: "admin" }));
      stack.push(stop);
    },
  };
}

/**
 * Messages per subject of the inbox stream (a work queue: what is there waits, or runs unacked) and
 * of the changelog stream (purged up to each snapshot: what is there came after the last one), in
 * two requests for all the partitions.
 */
async function partitionStats(jsm: JetStreamManager, namespace: string, inboxStream: string, partitions: readonly number[]): Promise<Map<number, TransportStats>> {
  const [inbox, log] = await Promise.all([
    jsm.streams.info(inboxStream, { subjects_filter: `${namespace}.in.>` }),
    jsm.streams.info(logStreamName(namespace), { subjects_filter: `${namespace}.log.>` }),
  ]);
  const inboxCounts = inbox.state.subjects ?? {};
  const logCounts = log.state.subjects ?? {};
  return new Map(
    partitions.map((p) => [p, { inboxBacklog: inboxCounts[inboxSubject(namespace, p)] ?? 0, changelogLength: logCounts[logSubject(namespace, p)] ?? 0 }]),
  );
}

/**
 * Whether the connection had trouble (a disconnect, a reconnect, a stale connection) within the
 * last `windowMs`: partitions moving then most likely moved because of it.
 */
function watchConnection(nc: Connection, windowMs: number): () => boolean {
  let troubleAt = Number.NEGATIVE_INFINITY;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect" || status.type === "reconnecting" || status.type === "staleConnection") troubleAt = performance.now();
    }
  })().catch(() => undefined);
  return () => performance.now() - troubleAt < windowMs;
}
