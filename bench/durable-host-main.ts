// A NATS-mode host serving the durable benchmark's handlers, in its own process (as the cart
// scenario's host is): `durable-host-main.ts NATS_URL NAMESPACE DATA_DIR PARTITIONS`.
import { startHost } from "cairn/runtime";
import { durableBenchServices } from "./durable-services.js";

const [servers, namespace, dataDir, partitions] = process.argv.slice(2);
if (!servers || !namespace || !dataDir) throw new Error("usage: durable-host-main.ts NATS_URL NAMESPACE DATA_DIR [PARTITIONS]");
await startHost({ services: durableBenchServices, dataDir, nats: { servers }, namespace, partitions: Number(partitions ?? 32), logLevel: "error" });
process.stdout.write("ready\n");
// The bench SIGKILLs it; should the bench die first, it must not stay behind.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
