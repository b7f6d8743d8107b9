import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, NatsError, connect } from "nats";
import { DEFAULT_NATS_URL, authEnv, localAuth, natsFromEnv } from "./nats-auth.js";

export { DEFAULT_NATS_URL } from "./nats-auth.js";

/** Whether a server answers at `url`; one that refuses the host's credentials is an error to fix, not a reason to start another. */
async function answers(url: string): Promise<boolean> {
  const { user, pass, token } = natsFromEnv("host", { ...process.env, CAIRN_NATS_URL: url });
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000, user, pass, token });
    await nc.close();
    return true;
  } catch (error) {
    if (error instanceof NatsError && error.code === ErrorCode.AuthorizationViolation) {
      console.error(
        `the NATS server at ${url} refuses the host's credentials (${String(error)}).\nSet CAIRN_NATS_USER and CAIRN_NATS_PASSWORD (or CAIRN_NATS_TOKEN, CAIRN_NATS_CREDS) for it, or remove .cairn/nats-auth.json if it belongs to another server.`,
      );
      process.exit(1);
    }
    return false;
  }
}

/**
 * Uses the NATS server at `CAIRN_NATS_URL` (default 127.0.0.1:4222) when one answers; otherwise
 * starts `nats-server -c nats.conf` (store under .cairn/, users from nats-auth.conf with the
 * passwords of .cairn/nats-auth.json, made on first use) as a child of this process.
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
  const env = { ...process.env, ...authEnv(localAuth()) };
  const child: ChildProcess = spawn("nats-server", ["-c", "nats.conf"], { env, stdio: ["ignore", "ignore", openSync(logFile, "a")] });
  const deadline = Date.now() + 10_000;
  while (!(await answers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start on ${url} (see ${logFile})`);
    await sleep(100);
  }
  console.log(`started nats-server (pid ${child.pid}) with nats.conf on ${url} (log: ${logFile})`);
  return { url, stop: () => void child.kill("SIGTERM") };
}
