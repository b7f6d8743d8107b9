// `npm run nats:cluster`: a 3-node JetStream cluster on loopback (client ports 4231-4233, routes
// 6231-6233, stores under .cairn/nats-cluster/), from nats-cluster/node.conf. Ctrl-C stops it.
import { startNatsCluster } from "../test/helpers/nats-cluster.js";
import { join } from "node:path";
import { authEnv, localAuth, stateDir } from "../cli/nats-auth.js";

// The users of nats-auth.conf, with the passwords of .cairn/nats-auth.json: the scripts find them there.
const auth = localAuth();
const cluster = await startNatsCluster({
  users: { env: authEnv(auth), host: { user: "cairn-host", pass: auth.hostPassword }, client: { user: "cairn-client", pass: auth.clientPassword } },
  clientPorts: [4231, 4232, 4233],
  clusterPorts: [6231, 6232, 6233],
  storeDir: join(stateDir(), "nats-cluster"),
  log: process.env.CAIRN_NATS_LOG ? (line) => console.error(line) : undefined,
});
console.log(`
3-node NATS JetStream cluster ready: ${cluster.urls.join(", ")}
Run hosts against it with 3 replicas, e.g.:

    startHost({ ..., nats: { servers: ${JSON.stringify(cluster.urls)}, user: "cairn-host", pass: <hostPassword in .cairn/nats-auth.json> }, replicas: 3 })
    CAIRN_NATS_URL=${cluster.urls.join(",")} npm run partitions

Ctrl-C stops it.`);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void cluster.stop().then(() => process.exit(0)));
}
