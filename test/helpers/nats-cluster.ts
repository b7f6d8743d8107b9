import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type NatsConnection, connect } from "nats";
import { requireNatsServer } from "../../cli/nats-binary.js";
import { freePort, shippedUsers } from "./nats-server.js";

const CONFIG = resolve(import.meta.dirname, "../../nats-cluster/node.conf");

export interface ClusterNode {
  name: string;
  url: string;
  readonly pid: number | undefined;
  /** SIGKILLs the node. */
  kill(): Promise<void>;
  /** Starts a killed node again, on its ports and store. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  urls: string[];
  /** The `cairn-host` user (node.conf includes nats-auth.conf), for hosts and for tests' own connections. */
  host: { user: string; pass: string };
  nodes: ClusterNode[];
  stop(): Promise<void>;
}

/**
 * Starts a 3-node JetStream cluster on loopback from `nats-cluster/node.conf`, and resolves once
 * it can create an R3 stream. Ports are free ones unless given (`npm run nats:cluster` fixes them).
 */
export async function startNatsCluster(
  options: { clientPorts?: number[]; clusterPorts?: number[]; storeDir?: string; users?: ReturnType<typeof shippedUsers>; log?: (line: string) => void } = {},
): Promise<NatsCluster> {
  const binary = requireNatsServer();
  // Absolute: nats-server parses an environment variable's value as a config value, and a relative
  // path such as ".cairn/…" reads as a malformed number, so every node would exit at once.
  const dir = resolve(options.storeDir ?? mkdtempSync(join(tmpdir(), "cairn-nats-cluster-")));
  const clientPorts = options.clientPorts ?? [await freePort(), await freePort(), await freePort()];
  const clusterPorts = options.clusterPorts ?? [await freePort(), await freePort(), await freePort()];
  const users = options.users ?? shippedUsers();
  const routes = Object.fromEntries(clusterPorts.map((port, i) => [`CAIRN_ROUTE_${i + 1}`, `nats-route://127.0.0.1:${port}`]));
  const exits: Array<Promise<string>> = [];
  const nodes = clientPorts.map((clientPort, i) => {
    const name = `n${i + 1}`;
    const store = join(dir, name);
    mkdirSync(store, { recursive: true });
    let child: ChildProcess | undefined;
    const env = { ...process.env, ...users.env, ...routes, CAIRN_NODE_NAME: name, CAIRN_CLIENT_PORT: String(clientPort), CAIRN_CLUSTER_PORT: String(clusterPorts[i]), CAIRN_STORE_DIR: store };
    const node = {
      name,
      url: `nats://127.0.0.1:${clientPort}`,
      get pid() {
        return child?.pid;
      },
      async restart() {
        const started = spawn(binary, ["-c", CONFIG], { env, stdio: ["ignore", "ignore", "pipe"] });
        child = started;
        let stderr = "";
        started.stderr?.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          options.log?.(`${name}: ${chunk.toString().trimEnd()}`);
        });
        exits.push(new Promise((resolveExit) => started.once("exit", (code, signal) => resolveExit(`node ${name} exited (${signal ?? `code ${code}`}) while the cluster started: ${stderr.trim()}`))));
      },
      async kill() {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child?.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      },
    };
    return node;
  });
  for (const node of nodes) await node.restart();
  const urls = nodes.map((n) => n.url);
  const stop = async () => {
    for (const node of nodes) await node.kill();
    if (!options.storeDir) rmSync(dir, { recursive: true, force: true });
  };
  // A node that exits during start-up (a port in use, a config it refuses) fails the start at once.
  const startUp = new AbortController();
  void Promise.race(exits).then((reason) => startUp.abort(new Error(reason)));
  try {
    await untilJetStreamReady(urls, users.host, startUp.signal);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    // Later exits (a test killing a node) are no longer a failed start.
    startUp.abort();
  }
  return { urls, host: users.host, nodes, stop };
}

/** The cluster has elected its JetStream meta leader once an R3 stream can be created. */
async function untilJetStreamReady(urls: string[], auth: { user: string; pass: string }, failed: AbortSignal, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const check = () => {
    failed.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`the NATS cluster did not become ready within ${timeoutMs} ms`);
  };
  // The nodes were only just spawned: keep trying until one listens.
  let nc: NatsConnection | undefined;
  while (!nc) {
    check();
    nc = await connect({ servers: urls, reconnect: false, timeout: 1000, ...auth }).catch(() => sleep(100).then(() => undefined));
  }
  try {
    // No API check: until the meta leader is elected, that check itself times out.
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    for (;;) {
      try {
        await jsm.streams.add({ name: "CAIRN_CLUSTER_PROBE", subjects: ["cairn.cluster.probe"], num_replicas: 3 });
        await jsm.streams.delete("CAIRN_CLUSTER_PROBE");
        return;
      } catch (error) {
        failed.throwIfAborted();
        if (Date.now() > deadline) throw new Error(`the NATS cluster did not become ready within ${timeoutMs} ms: ${String(error)}`);
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
}
