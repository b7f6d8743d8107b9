// `npm run changelog -- show PARTITION [COUNT] [--namespace NS]`: a partition's last changelog entries.
// `npm run changelog -- skip PARTITION SEQ [--namespace NS]`: lets a partition whose last entries do
// not decode be taken over again, by appending a skip of them (see docs/architecture.md).
import { connect } from "nats";
import { inspectChangelog, skipCorruptEntries } from "../runtime/transport/nats/index.js";
import { NatsConnectionSchema, natsClientOptions } from "../sdk/internal.js";
import { natsFromEnv } from "../cli/nats-auth.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const namespace = flag("--namespace") ?? "cairn";
const [command, partitionArg, third] = args;
const partition = Number(partitionArg);
const usage = "usage: npm run changelog -- show PARTITION [COUNT] | skip PARTITION SEQ   [--namespace NS]";
if (!Number.isInteger(partition) || partition < 0 || (command !== "show" && command !== "skip") || (command === "skip" && !third)) {
  console.error(usage);
  process.exit(2);
}

const nc = await connect({ ...natsClientOptions(NatsConnectionSchema.parse(natsFromEnv("host")), "cairn-changelog"), maxReconnectAttempts: 0 }).catch(
  (error: unknown) => {
    console.error(`cannot connect to NATS (${String(error)}); set CAIRN_NATS_URL, and CAIRN_NATS_USER/CAIRN_NATS_PASSWORD for the host user`);
    process.exit(1);
  },
);
try {
  const jsm = await nc.jetstreamManager();
  if (command === "show") {
    const entries = await inspectChangelog(jsm, namespace, partition, Number(third ?? 10));
    if (entries.length === 0) console.log(`partition ${partition} of "${namespace}" has no changelog entries`);
    for (const e of entries) {
      console.log(e.ok ? `${e.seq}\t${e.type}\thost ${e.hostId}\tepoch ${e.epoch}\tprev ${e.prev}\t${e.records} record(s)` : `${e.seq}\tCORRUPT\t${e.problem}`);
    }
  } else {
    const { seq, skipped } = await skipCorruptEntries(jsm, nc.jetstream(), namespace, partition, Number(third));
    console.log(`entries ${skipped.join(", ")} of partition ${partition} are skipped (skip entry ${seq}); its next take-over (within the start backoff, at most 30 s) passes over them`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await nc.close();
}
