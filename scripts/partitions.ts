// `npm run partitions [-- NAMESPACE]`: which host serves each partition, since when, and its backlog.
import { connect } from "nats";
import { inboxStreamName, namespaceToken, partitionsFromDescription } from "../sdk/internal.js";
import { DEFAULT_NATS_URL } from "./local-nats.js";

const namespace = process.argv[2] ?? "cairn";
const servers = process.env.CAIRN_NATS_URL ?? DEFAULT_NATS_URL;
const nc = await connect({ servers }).catch((error: unknown) => {
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
  const kv = await nc.jetstream().views.kv(`${namespaceToken(namespace)}_hosts`, { bindOnly: true }).catch(() => undefined);
  const owner = await kv?.get("owner");
  const holder = owner && owner.operation === "PUT" ? (JSON.parse(new TextDecoder().decode(owner.value)) as { hostId: string; sinceMs: number }) : undefined;
  console.log(
    holder
      ? `namespace ${namespace}: ${partitions} partitions, served by ${holder.hostId} since ${new Date(holder.sinceMs).toISOString()} (lock revision ${owner?.revision})`
      : `namespace ${namespace}: ${partitions} partitions, no host serving it now`,
  );
  console.log("partition  owner".padEnd(60) + "waiting  in flight");
  for (let p = 0; p < partitions; p++) {
    const consumer = await jsm.consumers.info(stream, `p${p}`).catch(() => undefined);
    const waiting = consumer ? String(consumer.num_pending) : "-";
    const inFlight = consumer ? String(consumer.num_ack_pending) : "-";
    console.log(`${String(p).padEnd(11)}${(holder?.hostId ?? "(none)").padEnd(49)}${waiting.padEnd(9)}${inFlight}`);
  }
} finally {
  await nc.close();
}
