import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";

export interface NatsServer extends AsyncDisposable {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function requireBinary(): void {
  try {
    execFileSync("nats-server", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("nats-server is not installed: run `apt-get install -y nats-server` (Debian/Ubuntu) and try again");
  }
}

/** Spawns `nats-server -c conf` and resolves once it answers on `url`. */
async function spawnServer(conf: string, url: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn("nats-server", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited early: ${stderr}`);
    try {
      const nc = await connect({ servers: url, reconnect: false });
      await nc.close();
      return child;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`nats-server did not answer on ${url} within 10 s: ${stderr}`);
      }
      await sleep(50);
    }
  }
}

function writeConfig(dir: string, port: number): string {
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 8MB\njetstream { store_dir: "${join(dir, "js")}" }\n`);
  return conf;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** Starts a real `nats-server` with JetStream on a free loopback port and a temporary store. */
export async function startNatsServer(): Promise<NatsServer> {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "cairn-nats-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const child = await spawnServer(writeConfig(dir, port), url);
  const stop = async () => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, pid: child.pid ?? 0, stop, [Symbol.asyncDispose]: stop };
}

/** A server that can be killed, paused and started again on the same port and store dir. */
export interface RestartableNatsServer extends NatsServer {
  /** SIGKILLs the server and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again (same port, same store) and waits until it answers. */
  restart(): Promise<void>;
  /** SIGSTOP: the process stays, holding its port, and answers nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

/** Like `startNatsServer`, for tests that crash or pause the server itself. */
export async function startRestartableNatsServer(): Promise<RestartableNatsServer> {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "cairn-nats-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const conf = writeConfig(dir, port);
  let child = await spawnServer(conf, url);
  const server: RestartableNatsServer = {
    url,
    get pid() {
      return child.pid ?? 0;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
    async restart() {
      await server.kill();
      child = await spawnServer(conf, url);
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
    async stop() {
      server.resume();
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  return server;
}
