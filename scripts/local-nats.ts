import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

async function answers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Uses the NATS server at `CAIRN_NATS_URL` (default 127.0.0.1:4222) when one answers; otherwise
 * starts `nats-server -c nats.conf` (store under .cairn/) as a child of this process.
 */
export async function ensureLocalNats(): Promise<{ url: string; stop(): void }> {
  const url = process.env.CAIRN_NATS_URL ?? DEFAULT_NATS_URL;
  if (await answers(url)) {
    console.log(`using the NATS server at ${url}`);
    return { url, stop: () => undefined };
  }
  if (url !== DEFAULT_NATS_URL) throw new Error(`no NATS server answers at CAIRN_NATS_URL=${url}`);
  try {
    execFileSync("nats-server", ["--version"], { stdio: "ignore" });
  } catch {
    console.error("nats-server is not installed. Install it with:\n\n    sudo apt-get install -y nats-server\n\n(or see https://docs.nats.io/running-a-nats-service/introduction/installation), then run this again.");
    process.exit(1);
  }
  mkdirSync(".cairn", { recursive: true });
  const logFile = ".cairn/nats-server.log";
  const child: ChildProcess = spawn("nats-server", ["-c", "nats.conf"], { stdio: ["ignore", "ignore", openSync(logFile, "a")] });
  const deadline = Date.now() + 10_000;
  while (!(await answers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start on ${url} (see ${logFile})`);
    await sleep(100);
  }
  console.log(`started nats-server (pid ${child.pid}) with nats.conf on ${url} (log: ${logFile})`);
  return { url, stop: () => void child.kill("SIGTERM") };
}
