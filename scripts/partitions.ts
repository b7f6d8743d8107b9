// `npm run partitions [-- NAMESPACE]`: which host owns each partition, its lease epoch, and its lag.
import { connect } from "nats";
import { leaseBucketName, readLeases } from "../runtime/transport/nats/index.js";
import { logStreamName } from "../runtime/transport/nats/index.js";
import { inboxStreamName, inboxSubject, partitionsFromDescription } from "../sdk/internal.js";
import { natsClientOptions, NatsConnectionSchema } from "../sdk/internal.js";
import { natsFromEnv } from "../cli/nats-auth.js";

const namespace = process.argv[2] ?? "cairn";
// Reading leases and consumers is the hosts' business: this connects as the host user.
const options = NatsConnectionSchema.parse(natsFromEnv("host"));
const servers = options.servers;
const nc = await connect({ ...natsClientOptions(options, "cairn-partitions"), maxReconnectAttempts: 0 }).catch((error: unknown) => {
  console.error(`no NATS server answers at ${servers} (${String(error)}); set CAIRN_NATS_URL`);
  process.exit(1);
});
try {
  const jsm = await nc.jetstreamManager();
  const stream = inboxStreamName(namespace);
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (!info) {
    console.error(`no Cairn inbox stream "${stream}" for namespace "${namespace}": has a host ever started with it?`);
    process.exit(1);
  }
  const partitions = partitionsFromDescription(info.config.description) ?? 0;
  const kv = await nc.jetstream().views.kv(leaseBucketName(namespace), { bindOnly: true }).catch(() => undefined);
  const { hosts, leases } = kv ? await readLeases(kv) : { hosts: [], leases: [] };
  const byPartition = new Map(leases.map((l) => [l.partition, l]));
  const consumers = new Map<string, { waiting: number; inFlight: number }>();
  for await (const c of jsm.consumers.list(stream)) {
    if (c.config.filter_subject) consumers.set(c.config.filter_subject, { waiting: c.num_pending, inFlight: c.num_ack_pending });
  }
  const log = await jsm.streams.info(logStreamName(namespace), { subjects_filter: `${namespace}.log.>` }).catch(() => undefined);
  const logEntries = log?.state.subjects ?? {};

  console.log(`namespace ${namespace}: ${partitions} partitions, ${hosts.length} live host(s)${hosts.length ? `: ${hosts.join(", ")}` : ""}`);
  console.log(`${"partition".padEnd(11)}${"owner".padEnd(48)}${"epoch".padEnd(9)}${"waiting".padEnd(9)}${"in flight".padEnd(11)}log entries`);
  for (let p = 0; p < partitions; p++) {
    const lease = byPartition.get(p);
    const consumer = consumers.get(inboxSubject(namespace, p));
    console.log(
      String(p).padEnd(11) +
        (lease?.hostId ?? "(none: waiting for a host)").padEnd(48) +
        String(lease?.epoch ?? "-").padEnd(9) +
        String(consumer?.waiting ?? "-").padEnd(9) +
        String(consumer?.inFlight ?? "-").padEnd(11) +
        String(logEntries[`${namespace}.log.${p}`] ?? 0),
    );
  }
  console.log("waiting: inbox messages not yet delivered; in flight: delivered, not yet acked; log entries: changelog kept since the last snapshot");
} finally {
  await nc.close();
}
