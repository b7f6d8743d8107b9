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

/** Starts a real `nats-server` with JetStream on a free loopback port and a temporary store. */
export async function startNatsServer(): Promise<NatsServer> {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "cairn-nats-"));
  const port = await freePort();
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 8MB\njetstream { store_dir: "${join(dir, "js")}" }\n`);
  const child: ChildProcess = spawn("nats-server", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `nats://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited early: ${stderr}`);
    try {
      const nc = await connect({ servers: url, reconnect: false });
      await nc.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`nats-server did not answer on ${url} within 10 s: ${stderr}`);
      }
      await sleep(50);
    }
  }
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, pid: child.pid ?? 0, stop, [Symbol.asyncDispose]: stop };
}
