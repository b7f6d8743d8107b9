import { Client } from "../../../sdk/internal.js";
import type { HostTransport, TransportContext } from "../../host-transport.js";
import { LocalClientTransport } from "./local-client.js";
import { LocalInboxes } from "./local-inbox.js";
import { LocalOwnership } from "./local-ownership.js";
import { LocalPartition } from "./local-partition.js";
import { InboxRouter, LocalReplier } from "./local-replier.js";

/** How long `host.client` waits for a call's result by default (as a NATS client does). */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Embedded mode: no server. Every partition is this process's; inboxes are a table of the same LMDB
 * environment, every commit a synced transaction, and `host.client` appends to the inboxes directly.
 */
export function localTransport(context: TransportContext): HostTransport {
  const { config, store, hostId, log, signal } = context;
  const inboxes = new LocalInboxes();
  const replier = new LocalReplier(log.child({ component: "replies" }));
  const client = new Client(new LocalClientTransport(store, inboxes, replier, config.partitions), { timeoutMs: CALL_TIMEOUT_MS });
  context.stack.push(() => client.close());
  return {
    ownership: new LocalOwnership(config.partitions, hostId),
    router: new InboxRouter(inboxes),
    replier,
    client,
    worker: (partition, epoch, processor) =>
      new LocalPartition(partition, epoch, { store, inboxes, maxInFlight: config.maxInFlightPerPartition, processor, signal, log }),
    released: async () => undefined,
    stats: async (partitions) => new Map(partitions.map((p) => [p, { inboxBacklog: store.countInbox(p), changelogLength: 0 }])),
    serveAdmin: async () => undefined,
  };
}
